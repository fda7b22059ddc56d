"""Settings read from the environment: derived defaults and their overrides."""

import pytest

from streamapp.config import Settings
from streamapp.errors import ConfigError


def test_clock_url_defaults_to_the_clock_port_on_this_host() -> None:
    assert Settings.from_env({}).clock_base_url == "http://localhost:6067"
    assert Settings.from_env({"CLOCK_PORT": "7001"}).clock_base_url == "http://localhost:7001"


def test_clock_url_overrides_the_port_and_loses_a_trailing_slash() -> None:
    env = {"CLOCK_URL": "http://batch-host:6067/", "CLOCK_PORT": "7001"}
    assert Settings.from_env(env).clock_base_url == "http://batch-host:6067"


def test_clock_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="CLOCK_URL"):
        Settings.from_env({"CLOCK_URL": "batch-host:6067"})
