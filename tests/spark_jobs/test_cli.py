"""`wordstream batch status` and `trigger`: where they find the clock."""

import pytest

from devstack.ports import free_port
from spark_jobs.cli import _clock_health
from streamapp.cli import main
from streamapp.config import Settings


def test_status_asks_the_clock_at_clock_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    found = _clock_health(Settings(clock_url=url))
    assert isinstance(found, str) and url in found


def test_trigger_posts_to_the_clock_at_clock_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("CLOCK_URL", url)
    assert main(["batch", "trigger"]) == 1
    assert url in capsys.readouterr().err
