"""The exactly-once HDFS archive sink: every message of the source topic, as JSON lines.

`core` holds the pure logic (file names, records, markers, recovery, rotation, offset
regressions), `store` the HDFS I/O over the `hdfs` package, `agent` the sink's own
Kafka consumer, run by a faust service inside the worker.
The on-disk format is docs/contracts.md section 1; the design is docs/archive.md.
"""
