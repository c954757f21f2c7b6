"""Bounded reading of small untrusted inputs (issue 17, "bounded resources").

* :func:`read_small` / :func:`read_small_text` - token files, key files, known_hosts, password
  files, state files: a regular file only (``/dev/zero``, a FIFO or a directory is refused before
  one byte is read) and at most ``limit`` bytes (64 KB by default) ever read into memory.
* :func:`load_yaml` / :func:`load_yaml_file` - the one YAML loader for every config the app reads:
  ``yaml.SafeLoader`` (no Python objects) that REFUSES aliases (``*name``).  Why refuse rather than
  count: an alias costs nothing to parse but every consumer that walks the result (validators,
  override merging, ``yaml.safe_dump`` of a run's config, the remote-job id scan) pays for the
  expanded tree, so a 1 KB "billion laughs" file becomes gigabytes downstream.  A bound on alias
  *uses* does not bound the expanded size (nine aliases per level, nine levels = 81 uses and 9**9
  nodes); a bound on expanded size needs a weight per node.  KlineLab configs are short, written by
  hand or by the pages, and none uses anchors, so refusing aliases costs users nothing and leaves no
  arithmetic to get wrong.  Config files are also capped at 1 MB.
* :func:`short_repr` - what error messages use to show a value: ``reprlib`` with small limits, so a
  message never formats an unbounded value.

Written by hand because the pieces are small: PyYAML offers no alias switch (the loader override
is the documented way to customise composition) and the standard library has no bounded read.
"""
from __future__ import annotations

import os
import reprlib
import stat
from pathlib import Path
from typing import Any

from config.errors import BadInput, NotFound

SMALL_FILE_LIMIT = 64 * 1024
CONFIG_FILE_LIMIT = 1024 * 1024


def _fmt_size(n: int) -> str:
    return f"{n // 1024} KB" if n >= 1024 else f"{n} bytes"


def check_small_file(path: str | os.PathLike, what: str, limit: int = SMALL_FILE_LIMIT) -> Path:
    """The path of an existing regular file of at most ``limit`` bytes (checked without reading it)."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise NotFound(f"{what} {p} does not exist", hint="check the path") from None
    except OSError as e:
        raise BadInput(f"cannot read {what} {p}: {e.strerror or e}") from None
    _check_stat(p, st, what, limit)
    return p


def _check_stat(p: Path, st: os.stat_result, what: str, limit: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise BadInput(f"{what} {p} is a directory, not a file", hint="give the path of a file")
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"{what} {p} is not a regular file (a device, pipe or socket)", hint="give the path of a file")
    if st.st_size > limit:
        raise BadInput(f"{what} {p} is too large ({_fmt_size(st.st_size)}; at most {_fmt_size(limit)})",
                       hint=f"is this really the {what}?")


def read_small(path: str | os.PathLike, what: str, limit: int = SMALL_FILE_LIMIT) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; never reads more than ``limit + 1``."""
    p = Path(path).expanduser()
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat below refuses it anyway
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NotFound(f"{what} {p} does not exist", hint="check the path") from None
    except OSError as e:
        raise BadInput(f"cannot read {what} {p}: {e.strerror or e}") from None
    try:
        _check_stat(p, os.fstat(fd), what, limit)
        chunks, got = [], 0
        while got <= limit:
            b = os.read(fd, min(65536, limit + 1 - got))
            if not b:
                break
            chunks.append(b)
            got += len(b)
        if got > limit:  # grew after the fstat
            raise BadInput(f"{what} {p} is too large (more than {_fmt_size(limit)})")
        return b"".join(chunks)
    except OSError as e:
        raise BadInput(f"cannot read {what} {p}: {e.strerror or e}") from None
    finally:
        os.close(fd)


def read_small_text(path: str | os.PathLike, what: str, limit: int = SMALL_FILE_LIMIT) -> str:
    data = read_small(path, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadInput(f"{what} {Path(path).expanduser()} is not UTF-8 text (byte {e.start})",
                       hint=f"is this really the {what}?") from None


_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6


def short_repr(value: Any, limit: int = 120) -> str:
    """``repr(value)`` bounded in depth, width and length (for error messages)."""
    try:
        s = _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not replace the real error
        s = f"<{type(value).__name__}>"
    return s if len(s) <= limit else s[: limit - 3] + "..."


# -- YAML -----------------------------------------------------------------------------------------
def _loader_class():
    import yaml

    class NoAliasSafeLoader(yaml.SafeLoader):
        """SafeLoader that refuses aliases (see the module docstring for why)."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                ev = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"YAML aliases (*{str(ev.anchor)[:40]}) are not allowed in KlineLab configs; "
                                "write the value out", ev.start_mark)
            return super().compose_node(parent, index)

    return NoAliasSafeLoader


_LOADER = None


def load_yaml(text: str | bytes, source: str = "config") -> Any:
    """Parse YAML text safely (no aliases, no Python objects); any error -> one-line ``BadInput``."""
    global _LOADER
    import yaml

    if _LOADER is None:
        _LOADER = _loader_class()
    if len(text) > CONFIG_FILE_LIMIT:
        raise BadInput(f"{source}: too large for a config ({_fmt_size(len(text))}; at most {_fmt_size(CONFIG_FILE_LIMIT)})")
    try:
        return yaml.load(text, Loader=_LOADER)  # a SafeLoader subclass: no Python objects
    except yaml.YAMLError as e:
        first = str(e).strip().splitlines()
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(e, "problem", None) or (first[0] if first else "syntax error")
        raise BadInput(f"{source}: not valid YAML: {str(problem)[:200]}{where}") from None
    except RecursionError:
        raise BadInput(f"{source}: not valid YAML: nested too deeply") from None


def load_yaml_file(path: str | os.PathLike, what: str = "config file", limit: int = CONFIG_FILE_LIMIT) -> Any:
    p = Path(path).expanduser()
    return load_yaml(read_small_text(p, what, limit), str(p))
