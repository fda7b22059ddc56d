"""Pure core of dead-worker eviction: which group member each other worker is, and
which member to remove from the group once its worker is known to be gone.

Each worker announces its consumer-group member id (`/_local/member`); the others
remember it per worker URL. A connection that the worker's port *refuses* means no
process listens there any more (a crash, kill -9, OOM kill): its member can only be
dead, and waiting for its session to time out would only delay the move of its
partitions. A worker that is slow or unreachable (a timeout, a lost host) proves
nothing and is left to the session timeout. See docs/live.md, "Failover".
"""

from __future__ import annotations

from collections.abc import Iterable


class Peers:
    """The last member id each other worker announced, by URL."""

    def __init__(self) -> None:
        self._members: dict[str, str] = {}

    def announced(self, url: str, member_id: str | None) -> None:
        """`url` answered with its member id (None: not in the group, or leaving it on
        its own: a clean stop, whose refusals that follow remove nothing)."""
        if member_id:
            self._members[url] = member_id
        else:
            self._members.pop(url, None)

    def refused(self, url: str) -> str | None:
        """The member to remove for `url`, whose port refused a connection: the one it
        last announced, once (None if it announced none)."""
        return self._members.pop(url, None)

    def keep(self, urls: Iterable[str]) -> None:
        """Forget the workers the group no longer lists."""
        listed = set(urls)
        for url in [u for u in self._members if u not in listed]:
            del self._members[url]
