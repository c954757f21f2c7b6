"""Fixtures of the tuning tests: the real Ray cluster on loopback of tests/executor (session scope)."""
from tests.executor.conftest import ray_cluster  # noqa: F401 - fixture
