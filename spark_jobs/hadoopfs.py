"""Thin access to any Hadoop filesystem (hdfs://, webhdfs://, file://) through Spark's JVM.

The job writes snapshots through Hadoop's FileSystem API (py4j) rather than a Python
HDFS client, so the same code works for every URI scheme Hadoop knows.
"""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def is_hidden(name: str) -> bool:
    """True for names Hadoop and Spark readers skip: temporary files, markers, state."""
    return name.startswith(("_", "."))


class HadoopFs:
    """One Hadoop FileSystem, reached through the session's JVM and Hadoop configuration."""

    def __init__(self, spark: SparkSession, uri: str) -> None:
        jvm: Any = spark._jvm
        self._jvm = jvm
        self._conf = spark._jsc.hadoopConfiguration()
        self._fs = self._path(uri).getFileSystem(self._conf)

    def _path(self, uri: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def exists(self, uri: str) -> bool:
        return bool(self._fs.exists(self._path(uri)))

    def uri_path(self, uri: str) -> str:
        """The path part of a URI (`webhdfs://nn:9870/a/b` -> `/a/b`)."""
        return str(self._path(uri).toUri().getPath())

    def list_dir(self, uri: str) -> list[tuple[str, str, bool]]:
        """(name, full URI, is_directory) of each entry of a directory."""
        return [
            (str(st.getPath().getName()), str(st.getPath().toString()), bool(st.isDirectory()))
            for st in self._fs.listStatus(self._path(uri))
        ]

    def data_files(self, root: str, suffix: str = ".jsonl") -> list[str]:
        """Every file under `root` ending in `suffix`, skipping hidden files and directories."""
        return [uri for uri, _ in self.data_files_with_lengths(root, suffix)]

    def data_files_with_lengths(self, root: str, suffix: str = ".jsonl") -> list[tuple[str, int]]:
        """(URI, length in bytes) of every file `data_files` lists."""
        found: list[tuple[str, int]] = []
        pending = [root]
        while pending:
            for st in self._fs.listStatus(self._path(pending.pop())):
                name, child = str(st.getPath().getName()), str(st.getPath().toString())
                if is_hidden(name):
                    continue
                if st.isDirectory():
                    pending.append(child)
                elif name.endswith(suffix):
                    found.append((child, int(st.getLen())))
        return sorted(found)

    def read_bytes(self, uri: str) -> bytes | None:
        """A small file's content, or None if it does not exist."""
        path = self._path(uri)
        if not self._fs.exists(path):
            return None
        stream = self._fs.open(path)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Create or overwrite a small file."""
        out = self._fs.create(self._path(uri), True)
        try:
            out.write(bytearray(data))
        finally:
            out.close()

    def mkdirs(self, uri: str) -> None:
        self._fs.mkdirs(self._path(uri))

    def delete(self, uri: str) -> None:
        """Delete a file or a directory tree; a missing path is fine."""
        self._fs.delete(self._path(uri), True)

    def replace(self, src: str, dst: str) -> None:
        """Rename `src` over `dst` atomically where the filesystem can.

        The public FileSystem.rename never overwrites. HDFS and WebHDFS expose
        rename(src, dst, OVERWRITE) on their FileSystem class; other filesystems
        (local) have it on FileContext. Without either: delete, then rename.
        """
        from py4j.protocol import Py4JError

        jvm = self._jvm
        src_path, dst_path = self._path(src), self._path(dst)
        rename_opts = jvm.org.apache.hadoop.fs.Options.Rename
        overwrite = self._gateway_array(rename_opts, [rename_opts.OVERWRITE])
        try:
            self._fs.rename(src_path, dst_path, overwrite)
            return
        except Py4JError:  # protected on this FileSystem class: try FileContext
            pass
        try:
            context = jvm.org.apache.hadoop.fs.FileContext.getFileContext(
                self._fs.getUri(), self._conf
            )
            context.rename(src_path, dst_path, overwrite)
            return
        except Py4JError as exc:
            log.warning("no atomic rename over %s (%s); deleting, then renaming", dst, exc)
        self._fs.delete(dst_path, False)
        if not self._fs.rename(src_path, dst_path):
            raise OSError(f"could not rename {src} to {dst}")

    def _gateway_array(self, java_class: Any, items: list[Any]) -> Any:
        from pyspark import SparkContext

        gateway = SparkContext._gateway
        assert gateway is not None
        array = gateway.new_array(java_class, len(items))
        for i, item in enumerate(items):
            array[i] = item
        return array
