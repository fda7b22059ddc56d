"""A WebHDFS-compatible server over a local directory, for development and tests."""

from devstack.webhdfs.namespace import RootInUse
from devstack.webhdfs.server import PortInUse, WebHdfsServer

__all__ = ["PortInUse", "RootInUse", "WebHdfsServer"]
