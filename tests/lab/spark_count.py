# The lab's Spark step, as a student writes it: count the lines HDFS holds.
# The only addition: the WebHDFS address may be given as the first argument.
import sys

from pyspark.sql import SparkSession

address = sys.argv[1] if len(sys.argv) > 1 else "localhost:9870"

spark = SparkSession.builder.appName("lab-count").master("local[1]").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
lines = spark.read.text("webhdfs://{}/data/data_stream".format(address))
print("lines: {}".format(lines.count()))
spark.stop()
