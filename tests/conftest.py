"""Shared fixtures: each real dev service has its plugin module under tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.broker",
    "tests.fixtures.sigterm",
    "tests.fixtures.spark",
    "tests.fixtures.webhdfs",
    "tests.fixtures.worker",
]
