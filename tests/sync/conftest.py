from tests.fixtures.sync_artifacts import artifacts, make_stage1  # noqa: F401 - fixtures
