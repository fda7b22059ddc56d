# The lab's HDFS step, as a student writes it: store a file through WebHDFS and
# read it back. The only addition: the WebHDFS URL may be given as the first argument.
import sys

from hdfs import InsecureClient

url = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:9870"

client = InsecureClient(url, user="student")
client.makedirs("/user/student/lab")
client.write("/user/student/lab/hello.txt", data="hello from the lab\n", overwrite=True)
with client.read("/user/student/lab/hello.txt", encoding="utf-8") as reader:
    print(reader.read().strip())
print(client.list("/user/student/lab"))
