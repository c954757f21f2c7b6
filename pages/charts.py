"""Figures cached for the pages: building a plotly figure (validation of every property) is most
of a chart page's rerun, so a figure whose inputs have not changed is reused.

``figure(builder, *args, key=None, **kwargs)`` returns ``builder(*args, **kwargs)``, built once per
distinct inputs: per ``key`` when given (a cheap content marker the caller knows, e.g. an artifact id
with its file's size and mtime), else per the arguments themselves (Streamlit hashes them by value,
DataFrames by content; slower on wide frames).  The figure is shared between reruns and sessions:
read it, never change it."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st


@st.cache_resource(show_spinner=False, max_entries=64)
def _by_key(_builder: Callable, name: str, key, _args: tuple, _kwargs: dict):
    return _builder(*_args, **_kwargs)


@st.cache_resource(show_spinner=False, max_entries=64)
def _by_value(_builder: Callable, name: str, args: tuple, kwargs: dict):
    return _builder(*args, **kwargs)


def figure(builder: Callable, *args, key=None, **kwargs):
    """``builder(*args, **kwargs)``, cached by the builder's name and ``key`` (or the arguments' content)."""
    name = f"{builder.__module__}.{builder.__qualname__}"
    if key is None:
        return _by_value(builder, name, args, kwargs)
    return _by_key(builder, name, (key, repr(sorted(kwargs.items()))), args, kwargs)


def stamp(*items) -> tuple:
    """A cheap content marker: a path -> (path, size, mtime) (None when absent); a DataFrame read from an
    append-only file (a training history) -> its shape, columns and last row; anything else as is."""
    out = []
    for x in items:
        if isinstance(x, Path):
            st_ = x.stat() if x.exists() else None
            out.append((str(x), st_ and st_.st_size, st_ and st_.st_mtime_ns))
        elif isinstance(x, pd.DataFrame):
            out.append((x.shape, tuple(map(str, x.columns)), tuple(map(str, x.tail(1).to_numpy().ravel()))))
        else:
            out.append(x)
    return tuple(out)
