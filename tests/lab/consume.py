# The lab's consumer, as a student writes it (stop it with Ctrl-C). The only
# addition: the bootstrap string may be given as the first argument.
import sys

from confluent_kafka import Consumer

bootstrap = sys.argv[1] if len(sys.argv) > 1 else "localhost:9092"

c = Consumer(
    {
        "bootstrap.servers": bootstrap,
        "group.id": "my_group",
        "auto.offset.reset": "earliest",
    }
)

c.subscribe(["data_stream"])

try:
    while True:
        msg = c.poll(1.0)

        if msg is None:
            continue
        if msg.error():
            print("Consumer error: {}".format(msg.error()))
            continue

        print("Received message: {}".format(msg.value().decode("utf-8")))
except KeyboardInterrupt:
    pass
finally:
    c.close()
