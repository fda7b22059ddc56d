"""The exactly-once HDFS archive sink: every message of the source topic, as JSON lines.

`core` holds the pure logic (file names, records, markers, recovery, rotation, offset
regressions), `store` the HDFS I/O over the `hdfs` package, `retry` the retries of HDFS
calls with backoff and outage reports, `ledger` the offsets to commit to Kafka and the
bytes waiting for HDFS, `consumer` the librdkafka consumer's settings and group watch,
`agent` the sink's consume loop, run by a faust service inside the worker.
The on-disk format is docs/contracts.md section 1; the design is docs/archive.md.
"""
