"""The classic lab's consumer script, unchanged, against the dev server."""

from __future__ import annotations

import pytest
from hdfs import InsecureClient

from devstack.webhdfs import WebHdfsServer

pytestmark = pytest.mark.integration


def test_lab_style_script(webhdfs: WebHdfsServer) -> None:
    client = InsecureClient(f"http://localhost:{webhdfs.port}", user="student")
    client.makedirs("/user/student/lab")
    messages = [f"message {i} from the data_stream topic" for i in range(5)]
    client.write("/user/student/lab/messages.txt", data="\n".join(messages), overwrite=True)
    with client.read("/user/student/lab/messages.txt", encoding="utf-8") as reader:
        content = reader.read()
    assert content.split("\n") == messages
    assert client.list("/user/student/lab") == ["messages.txt"]
