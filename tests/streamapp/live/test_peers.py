"""Unit tests of dead-worker eviction's bookkeeping (streamapp.live.peers)."""

from __future__ import annotations

from streamapp.live.peers import Peers


def test_a_refused_worker_gives_the_member_it_last_announced_once() -> None:
    peers = Peers()
    peers.announced("http://a:1", "member-1")
    peers.announced("http://a:1", "member-2")  # it rejoined: a new member id
    assert peers.refused("http://a:1") == "member-2"
    assert peers.refused("http://a:1") is None  # removed already


def test_nothing_to_remove_for_a_worker_that_never_announced_a_member() -> None:
    peers = Peers()
    peers.announced("http://b:1", None)  # answering, but not in the group yet
    assert peers.refused("http://b:1") is None
    assert peers.refused("http://c:1") is None


def test_workers_the_group_no_longer_lists_are_forgotten() -> None:
    peers = Peers()
    peers.announced("http://a:1", "member-a")
    peers.announced("http://b:1", "member-b")
    peers.keep(["http://b:1"])
    assert peers.refused("http://a:1") is None
    assert peers.refused("http://b:1") == "member-b"


def test_a_worker_that_stops_cleanly_is_not_removed() -> None:
    peers = Peers()
    peers.announced("http://a:1", "member-a")
    peers.announced("http://a:1", None)  # stopping: it leaves the group itself
    assert peers.refused("http://a:1") is None
