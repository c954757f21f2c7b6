"""Lowest layer of KlineLab: the error family, app settings and YAML config loading.

Imports go one way: pages -> engine / storage -> config.  Nothing here imports
engine, storage or streamlit.
"""
