"""What every dev service (broker, S3 store, WebHDFS server, Spark cluster) shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, Self


class Service(ABC):
    """A process or server its owner starts and stops; `with` stops it on any exit.

    Subclasses define `start()` (returning once the service answers) and `stop()`
    (safe to call twice, and after a failed start).
    """

    @abstractmethod
    def start(self) -> Any:
        """Start the service; return once it answers."""

    @abstractmethod
    def stop(self) -> None:
        """Stop what `start` started."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
