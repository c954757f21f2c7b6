"""Fixtures of the tuning tests: the real Ray cluster on loopback of tests/executor and the tiny
Stage 1 of tests/stage2 (session scope)."""
from tests.executor.conftest import ray_cluster  # noqa: F401 - fixture
from tests.stage2.conftest import stage1_template, stage1_ws  # noqa: F401 - fixtures
