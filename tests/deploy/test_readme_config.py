"""README's Configure table documents every setting the config module reads."""

import re
from pathlib import Path

from streamapp.config import Settings, env_names

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented() -> dict[str, str]:
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", README.read_text(), re.MULTILINE)
    return {var: default.strip() for var, default in rows}


def test_every_setting_is_in_the_readme_table() -> None:
    missing = set(env_names().values()) - set(_documented())
    assert not missing, f"add these to README.md's Configure table: {sorted(missing)}"


def test_documented_defaults_match_the_code() -> None:
    defaults = Settings()
    documented = _documented()
    for field, var in env_names().items():
        value = getattr(defaults, field)
        if value == "":
            continue  # documented in words: "(empty)", "login name"
        assert documented[var] == f"`{value}`", var
