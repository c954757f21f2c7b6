"""KlineLab engine: everything that computes.  Never imports streamlit.

Every page action is also a CLI command: ``python -m engine <group> <command> [--json]``.
"""
from config.version import VERSION as __version__  # noqa: F401
