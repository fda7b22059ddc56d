# The lab's producer, as a student writes it. The only addition: the bootstrap
# string may be given as the first argument (the tests run the broker on a free port).
import sys

from confluent_kafka import Producer

bootstrap = sys.argv[1] if len(sys.argv) > 1 else "localhost:9092"

p = Producer({"bootstrap.servers": bootstrap})


def delivery_report(err, msg):
    """Called once for each message produced to indicate delivery result."""
    if err is not None:
        print("Message delivery failed: {}".format(err))
    else:
        print("Message delivered to {} [{}]".format(msg.topic(), msg.partition()))


for i in range(10):
    p.poll(0)
    data = "Message {}".format(i)
    p.produce("data_stream", data.encode("utf-8"), callback=delivery_report)

p.flush()
