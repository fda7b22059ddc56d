"""The lock files pin every dependency of pyproject.toml, with hashes, and the venv matches."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> dict[str, str]:
    """Package -> pinned version of a lock file, each pin followed by its hashes."""
    text = path.read_text()
    found = {}
    for m in re.finditer(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)[^\n]*\\\n\s+--hash=sha256:", text, re.M):
        found[canonicalize_name(m[1])] = m[2]
    return found


def declared(extra: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    return {canonicalize_name(Requirement(d).name) for d in deps}


def test_runtime_lock_pins_every_runtime_dependency() -> None:
    locked = pins(ROOT / "requirements.lock")
    assert declared() <= locked.keys()
    assert "pytest" not in locked


def test_dev_lock_pins_everything_and_the_venv_was_built_from_it() -> None:
    locked = pins(ROOT / "requirements-dev.lock")
    assert declared("dev") <= locked.keys()
    runtime = pins(ROOT / "requirements.lock")
    assert {n: v for n, v in locked.items() if n in runtime} == runtime
    for name in declared("dev"):
        try:
            assert version(name) == locked[name], name
        except PackageNotFoundError:
            raise AssertionError(f"{name} is locked but not installed; run make") from None


def test_buildpack_files() -> None:
    assert (ROOT / "requirements.txt").read_text().split() == ["-r", "requirements.lock"]
    assert re.fullmatch(r"3\.1[1-3]\n", (ROOT / ".python-version").read_text())
