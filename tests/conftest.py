"""Shared fixtures: each real dev service has its plugin module under tests/fixtures/.

Tests sit beside the package they test; their kind is a marker. A test that uses a real
dev service (directly or through another fixture) is marked `integration` here, so
`-m "not integration and not e2e"` runs exactly the tests that need no server.
"""

import pytest

pytest_plugins = [
    "tests.fixtures.broker",
    "tests.fixtures.sigterm",
    "tests.fixtures.spark",
    "tests.fixtures.webhdfs",
    "tests.fixtures.worker",
]

# The fixtures that start a real dev service (tests/fixtures/).
SERVICES = frozenset(
    {
        "broker",
        "broker_factory",
        "spark",
        "spark_cluster",
        "webhdfs",
        "webhdfs_factory",
        "worker",
        "worker_factory",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs = SERVICES.intersection(getattr(item, "fixturenames", ()))
        if needs and item.get_closest_marker("e2e") is None:
            item.add_marker(pytest.mark.integration)
