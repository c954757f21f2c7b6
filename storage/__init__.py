"""The workspace on disk (artifact directories with manifest.json) and the DuckDB catalog.

Never imports streamlit (tests/test_layering.py checks).
"""
