"""A page run by Streamlit's AppTest replaces ``sys.modules['__main__']``; the local executor's spawned
workers must still start afterwards (the CI failure of stop 20: every item's worker 'died')."""
from engine.executor.local import LocalExecutor
from tests.executor import helpers


def test_a_page_run_in_process_replaces_main():
    import sys

    from streamlit.testing.v1 import AppTest

    def view():
        import streamlit as st

        st.write("x")

    before = sys.modules["__main__"]
    at = AppTest.from_function(view).run()
    assert not at.exception
    assert sys.modules["__main__"] is not before  # what the autouse guard in tests/conftest.py undoes


def test_local_pool_starts_after_a_page_ran_in_process():
    res = LocalExecutor(workers=2, max_retries=0).map(helpers.square_or_raise, [1, 4])
    assert [r.ok for r in res] == [True, True]
