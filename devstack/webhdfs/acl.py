"""HDFS ACLs as pure functions: parsing ACL specs, the four ACL changes, access checks.

An ACL is kept the way the NameNode keeps it: the permission bits (where the
group bits are the mask once the ACL is extended) plus the "feature" entries,
i.e. every entry that the bits cannot hold (named users and groups, the
unnamed group entry of an extended ACL, and the default ACL of a directory).
Rules and messages follow Hadoop's AclTransformation and FSPermissionChecker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from devstack.webhdfs.core import AccessControl, IllegalArgument, RemoteError

MAX_ENTRIES = 32  # per scope, as in Hadoop's AclTransformation
_TYPES = ("user", "group", "mask", "other")
_SPEC_ENTRY = re.compile(r"^(default:)?(user|group|mask|other):([^:]*)(?::([r-][w-][x-])?)?$")


class AclError(RemoteError):
    exception = "AclException"
    java_class = "org.apache.hadoop.hdfs.protocol.AclException"


class AclEntry(NamedTuple):
    """One ACL entry; `perm` is the `rwx` form, empty in a removal spec."""

    default: bool
    type: str
    name: str
    perm: str

    def key(self) -> tuple[bool, int, bool, str]:
        """Hadoop's order: access before default, user/group/mask/other, unnamed first."""
        return (self.default, _TYPES.index(self.type), self.name != "", self.name)

    def __str__(self) -> str:
        scope = "default:" if self.default else ""
        perm = f":{self.perm}" if self.perm else ""
        return f"{scope}{self.type}:{self.name}{perm}"


def parse_spec(spec: str, with_permissions: bool = True) -> list[AclEntry]:
    """The entries of an `aclspec` parameter (a bad one is the parameter parser's 400)."""
    entries = []
    for raw in (s.strip() for s in spec.split(",")):
        match = _SPEC_ENTRY.match(raw)
        if not raw or not match or (with_permissions and match.group(4) is None):
            raise IllegalArgument(f'Invalid value for webhdfs parameter "aclspec": {spec}')
        default, kind, name, perm = match.groups()
        entry = AclEntry(default is not None, kind, name, perm or "")
        if name and kind in ("mask", "other"):
            raise AclError(f"Invalid ACL: this entry type must not have a name: {entry}")
        entries.append(entry)
    return entries


def bits(perm: str) -> int:
    """`r-x` -> 5."""
    return sum(bit for ch, bit in zip(perm, (4, 2, 1), strict=True) if ch != "-")


def rwx(value: int) -> str:
    """5 -> `r-x`."""
    return "".join(ch if value & bit else "-" for ch, bit in zip("rwx", (4, 2, 1), strict=True))


class Acl(NamedTuple):
    """Permission bits (as an int, sticky bit included) and the feature entries."""

    mode: int
    entries: tuple[AclEntry, ...]


def full_entries(acl: Acl) -> list[AclEntry]:
    """Every entry of the ACL, the base access entries included."""
    mode, feature = acl
    access = [e for e in feature if not e.default]
    result = [AclEntry(False, "user", "", rwx(mode >> 6 & 7))]
    if access:  # extended: the group bits are the mask, group:: lives in the feature
        result += access
        result.append(AclEntry(False, "mask", "", rwx(mode >> 3 & 7)))
    else:
        result.append(AclEntry(False, "group", "", rwx(mode >> 3 & 7)))
    result.append(AclEntry(False, "other", "", rwx(mode & 7)))
    result += [e for e in feature if e.default]
    return sorted(result, key=AclEntry.key)


def _base(entries: Sequence[AclEntry], default: bool, kind: str) -> AclEntry | None:
    for e in entries:
        if e.default == default and e.type == kind and not e.name:
            return e
    return None


def _complete(entries: list[AclEntry], keep_mask: set[bool], is_dir: bool) -> Acl:
    """Validate a whole ACL, fill in masks and default base entries, return it as bits+feature.

    `keep_mask` holds the scopes whose mask stays as it is (given in the spec, or a
    scope the change did not touch); any other scope with named entries or a mask
    gets its mask recalculated as the union of the entries it filters.
    """
    keys = [(e.default, e.type, e.name) for e in entries]
    if len(keys) != len(set(keys)):
        raise AclError("Invalid ACL: multiple entries with same scope, type and name.")
    defaults = [e for e in entries if e.default]
    if defaults and not is_dir:
        raise AclError("Invalid ACL: only directories may have a default ACL.")
    if defaults:  # missing default base entries are copied from the access ones
        for kind in ("user", "group", "other"):
            if _base(defaults, True, kind) is None:
                access = _base(entries, False, kind)
                if access is not None:
                    entries.append(access._replace(default=True))
    for default in (False, True):
        scoped = [e for e in entries if e.default == default]
        if not scoped:
            continue
        if len(scoped) > MAX_ENTRIES:
            raise AclError(
                f"Invalid ACL: ACL has {len(scoped)} entries, which exceeds maximum of "
                f"{MAX_ENTRIES}."
            )
        if any(_base(scoped, default, k) is None for k in ("user", "group", "other")):
            raise AclError("Invalid ACL: the user, group and other entries are required.")
        mask = _base(scoped, default, "mask")
        if (mask is not None and default in keep_mask) or (
            mask is None and not any(e.name for e in scoped)
        ):
            continue
        union = 0
        for e in scoped:
            if e.type == "group" or (e.type == "user" and e.name):
                union |= bits(e.perm)
        if mask is not None:
            entries.remove(mask)
        entries.append(AclEntry(default, "mask", "", rwx(union)))
    return _to_acl(entries)


def _to_acl(entries: Iterable[AclEntry]) -> Acl:
    entries = sorted(entries, key=AclEntry.key)
    access = [e for e in entries if not e.default]
    user = _base(access, False, "user")
    group = _base(access, False, "group")
    other = _base(access, False, "other")
    mask = _base(access, False, "mask")
    assert user is not None and group is not None and other is not None
    group_bits = mask if mask is not None else group
    mode = bits(user.perm) << 6 | bits(group_bits.perm) << 3 | bits(other.perm)
    extended = mask is not None
    feature = tuple(
        e
        for e in entries
        if e.default or (extended and e.type != "mask" and (e.name or e.type == "group"))
    )
    return Acl(mode, feature)


def _keep_sticky(old: Acl, new: Acl) -> Acl:
    return Acl(new.mode | (old.mode & 0o1000), new.entries)


def _spec_masks(spec: list[AclEntry]) -> set[bool]:
    return {e.default for e in spec if e.type == "mask"}


def set_acl(acl: Acl, spec: list[AclEntry], is_dir: bool) -> Acl:
    """SETACL: the spec replaces the access entries, the default ones, or both."""
    dirty = {e.default for e in spec}
    kept = [e for e in full_entries(acl) if e.default not in dirty]
    keep = ({False, True} - dirty) | _spec_masks(spec)
    return _keep_sticky(acl, _complete(kept + list(spec), keep, is_dir))


def modify_acl_entries(acl: Acl, spec: list[AclEntry], is_dir: bool) -> Acl:
    """MODIFYACLENTRIES: merge the spec into the ACL, entry by entry."""
    merged = {(e.default, e.type, e.name): e for e in full_entries(acl)}
    for e in spec:
        merged[(e.default, e.type, e.name)] = e
    keep = ({False, True} - {e.default for e in spec}) | _spec_masks(spec)
    return _keep_sticky(acl, _complete(list(merged.values()), keep, is_dir))


def remove_acl_entries(acl: Acl, spec: list[AclEntry], is_dir: bool) -> Acl:
    """REMOVEACLENTRIES: drop the named entries (their permissions are ignored)."""
    doomed = {(e.default, e.type, e.name) for e in spec}
    kept = [e for e in full_entries(acl) if (e.default, e.type, e.name) not in doomed]
    for default in _spec_masks(spec):
        if any(e.name for e in kept if e.default == default):
            raise AclError(
                "Invalid ACL: mask is required and cannot be deleted if the ACL contains "
                "named entries."
            )
    keep = {False, True} - {e.default for e in spec}
    return _keep_sticky(acl, _complete(kept, keep, is_dir))


def remove_default_acl(acl: Acl) -> Acl:
    """REMOVEDEFAULTACL."""
    return Acl(acl.mode, tuple(e for e in acl.entries if not e.default))


def remove_acl(acl: Acl) -> Acl:
    """REMOVEACL: back to the permission bits; group bits come back from group::."""
    group = _base(acl.entries, False, "group")
    mode = acl.mode
    if group is not None:
        mode = (mode & ~0o070) | bits(group.perm) << 3
    return Acl(mode, ())


def inherit(parent: Acl, mode: int, is_dir: bool) -> Acl:
    """The ACL of a new child of a directory whose default ACL is `parent`'s default entries."""
    defaults = [e for e in parent.entries if e.default]
    if not defaults:
        return Acl(mode, ())
    access = [e._replace(default=False) for e in defaults]
    # The create mode filters the owner, the mask (or group) and the other entries.
    filtered = []
    for e in access:
        if e.type == "user" and not e.name:
            e = e._replace(perm=rwx(bits(e.perm) & mode >> 6 & 7))
        elif e.type == "other":
            e = e._replace(perm=rwx(bits(e.perm) & mode & 7))
        elif e.type == "mask" or (
            e.type == "group" and not e.name and _base(access, False, "mask") is None
        ):
            e = e._replace(perm=rwx(bits(e.perm) & mode >> 3 & 7))
        filtered.append(e)
    child = _to_acl(filtered)
    entries = child.entries + (tuple(defaults) if is_dir else ())
    return Acl(child.mode | (mode & 0o1000), entries)


FS_ACTIONS = {
    0: "NONE",
    1: "EXECUTE",
    2: "WRITE",
    3: "WRITE_EXECUTE",
    4: "READ",
    5: "READ_EXECUTE",
    6: "READ_WRITE",
    7: "ALL",
}


def parse_fsaction(raw: str) -> int:
    """The `fsaction` parameter (`r-x`), as bits."""
    if not re.fullmatch(r"[r-][w-][x-]", raw):
        raise IllegalArgument(f'Invalid value for webhdfs parameter "fsaction": {raw}')
    return bits(raw)


def allowed(acl: Acl, owner: str, group: str, user: str, groups: set[str], wanted: int) -> bool:
    """FSPermissionChecker's rule: owner, then named user, then groups, then other."""
    mode, feature = acl
    if user == owner:
        return mode >> 6 & wanted == wanted
    access = [e for e in feature if not e.default]
    mask = mode >> 3 & 7
    if access:
        for e in access:
            if e.type == "user" and e.name == user:
                return bits(e.perm) & mask & wanted == wanted
        matched = False
        for e in access:
            if e.type == "group" and (e.name or group) in groups:
                matched = True
                if bits(e.perm) & mask & wanted == wanted:
                    return True
        if matched:
            return False
    elif group in groups:
        return mask & wanted == wanted
    return mode & 7 & wanted == wanted


def mode_string(is_dir: bool, acl: Acl) -> str:
    """`drwxr-x---+` as Hadoop prints an inode in an AccessControlException."""
    mode = acl.mode
    text = "d" if is_dir else "-"
    text += rwx(mode >> 6 & 7) + rwx(mode >> 3 & 7) + rwx(mode & 7)
    if mode & 0o1000:
        text = text[:-1] + ("t" if mode & 1 else "T")
    return text + ("+" if acl.entries else "")


def access_denied(user: str, wanted: int, path: str, owner: str, group: str, text: str) -> None:
    raise AccessControl(
        f"Permission denied: user={user}, access={FS_ACTIONS[wanted]}, "
        f'inode="{path}":{owner}:{group}:{text}'
    )
