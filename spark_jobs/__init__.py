"""The batch layer: exact word counts from the HDFS archive, written as report snapshots."""
