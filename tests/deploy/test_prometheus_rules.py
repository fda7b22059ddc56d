"""deploy/prometheus/ checked with Prometheus's own tool: config, rules, rule unit tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool() -> str:
    """promtool's path; in CI (.ci/run installs it) a missing promtool is a failure."""
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing; .ci/run installs it (apt-get install -y prometheus)")
        pytest.skip("promtool is not installed here: apt-get install -y prometheus")
    return found


@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "rules.yml"],
        ["test", "rules", "rules_test.yml"],
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool(args: list[str]) -> None:
    result = subprocess.run(
        [promtool(), *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_use_only_metrics_the_processes_export() -> None:
    """A renamed metric must not leave an alert silently watching nothing."""
    root = DEPLOY.parents[1]
    exported = set()
    for module in ("streamapp/lag_metrics.py", "web/metrics.py"):
        exported |= set(re.findall(r'"(wordstream_[a-z_]+)"', (root / module).read_text()))
    used = set(re.findall(r"\b(wordstream_[a-z_]+)", (DEPLOY / "rules.yml").read_text()))
    assert used and used <= exported, used - exported
