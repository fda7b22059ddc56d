"""Unit tests of the pure ACL rules and the snapshot diff (no server)."""

from __future__ import annotations

import pytest

from devstack.webhdfs.acl import (
    Acl,
    AclError,
    allowed,
    full_entries,
    inherit,
    modify_acl_entries,
    parse_spec,
    remove_acl,
    remove_acl_entries,
    set_acl,
)
from devstack.webhdfs.core import IllegalArgument, TreeEntry, snapshot_diff


def strings(acl: Acl) -> list[str]:
    return [str(e) for e in acl.entries]


def test_named_entry_extends_the_acl_and_the_mask_becomes_the_group_bits() -> None:
    acl = set_acl(Acl(0o640, ()), parse_spec("user::rw-,user:bob:rwx,group::r--,other::---"), False)
    assert oct(acl.mode) == "0o670"
    assert strings(acl) == ["user:bob:rwx", "group::r--"]
    assert [str(e) for e in full_entries(acl)] == [
        "user::rw-",
        "user:bob:rwx",
        "group::r--",
        "mask::rwx",
        "other::---",
    ]


def test_an_explicit_mask_is_kept_and_filters_named_entries() -> None:
    acl = modify_acl_entries(Acl(0o750, ()), parse_spec("user:bob:rwx,mask::r--"), True)
    assert oct(acl.mode) == "0o740"
    assert allowed(acl, "alice", "staff", "bob", set(), 4)
    assert not allowed(acl, "alice", "staff", "bob", set(), 2)  # rwx masked to r--


def test_removing_the_last_named_entry_keeps_a_recalculated_mask() -> None:
    acl = set_acl(Acl(0o640, ()), parse_spec("user::rw-,user:bob:rwx,group::r--,other::---"), False)
    acl = remove_acl_entries(acl, parse_spec("user:bob", with_permissions=False), False)
    assert oct(acl.mode) == "0o640" and strings(acl) == ["group::r--"]
    with pytest.raises(AclError, match="mask is required"):
        named = modify_acl_entries(acl, parse_spec("user:eve:r--"), False)
        remove_acl_entries(named, parse_spec("mask::", with_permissions=False), False)


def test_remove_acl_restores_the_group_bits_from_the_group_entry() -> None:
    acl = set_acl(Acl(0o1640, ()), parse_spec("user::rw-,user:bob:rwx,group::r--,other::---"), True)
    assert oct(acl.mode) == "0o1670"  # the sticky bit survives
    assert remove_acl(acl) == Acl(0o1640, ())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("user:bob:rwx", "the user, group and other entries are required"),
        ("user::rwx,user::r--,group::r--,other::---", "multiple entries"),
        ("default:user:bob:rwx", "only directories"),
        ("mask:x:rwx", "must not have a name"),
    ],
)
def test_invalid_acls_are_acl_exceptions(spec: str, message: str) -> None:
    with pytest.raises(AclError, match=message):
        set_acl(Acl(0o644, ()), parse_spec(spec), False)


def test_unparseable_specs_are_bad_parameters() -> None:
    for spec in ("", "user:bob", "nobody::rwx", "user:bob:rwz"):
        with pytest.raises(IllegalArgument):
            parse_spec(spec)


def test_children_inherit_the_default_acl_filtered_by_their_mode() -> None:
    parent = set_acl(Acl(0o755, ()), parse_spec("default:user:bob:rwx,default:other::r-x"), True)
    assert "default:user::rwx" in strings(parent) and "default:mask::rwx" in strings(parent)
    file_acl = inherit(parent, 0o640, False)
    assert oct(file_acl.mode) == "0o640"  # mask rwx & group bits of 640; other r-x & 0
    assert strings(file_acl) == ["user:bob:rwx", "group::r-x"]
    dir_acl = inherit(parent, 0o755, True)
    assert [e for e in strings(dir_acl) if e.startswith("default:")] == [
        e for e in strings(parent) if e.startswith("default:")
    ]


def test_access_checks_groups_before_other() -> None:
    acl = modify_acl_entries(Acl(0o604, ()), parse_spec("group:ops:---"), False)
    assert not allowed(acl, "alice", "staff", "carl", {"ops"}, 4)  # a matching group denies
    assert allowed(acl, "alice", "staff", "dora", {"sales"}, 4)  # no group: other r--


def entry(inode: int, is_dir: bool = False, size: int = 1) -> TreeEntry:
    return TreeEntry(is_dir, inode, size, 0, ())


def test_snapshot_diff_reports_only_the_top_of_created_and_deleted_subtrees() -> None:
    old = {"": entry(1, True), "a": entry(2), "d": entry(3, True), "d/x": entry(4), "r": entry(5)}
    new = {
        "": entry(10, True),
        "a": entry(20),  # copied on write: a new inode
        "n": entry(30, True),
        "n/y": entry(31),
        "moved": entry(5),  # same inode, new name
    }
    assert [(e.type, e.source, e.target) for e in snapshot_diff(old, new)] == [
        ("MODIFY", "", None),
        ("CREATE", "n", None),
        ("DELETE", "d", None),
        ("RENAME", "r", "moved"),
        ("MODIFY", "a", None),
    ]
    assert snapshot_diff(old, old) == []
