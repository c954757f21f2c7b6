"""Database URLs and the passwords in them: parse (``parse_url``), show masked (``mask_url``), scrub a driver
message (``scrub``) and mask every URL of a command line before it is recorded (``mask_args``).

One helper for every place a URL could show or be stored: the SQL source's messages and manifests
(engine/data/sources/sql.py), the tuning storage (engine/tuning/study.py) and a job's recorded command
(engine/jobs/state.py: state.json and the job manifest).  The pages never put a password into a job's
command line (it travels in the job's environment: ``KLINELAB_SQL_URL``, ``KLINELAB_TUNE_STORAGE``);
``mask_args`` covers a command a user typed with one.  sqlalchemy is imported only when a URL is parsed.
"""
from __future__ import annotations

import re

from config.errors import BadInput

# a URL with a user part (scheme://...@...), no white space: what a password can hide in
_URL_WITH_USER = re.compile(r"^[A-Za-z][\w+.-]*://\S*@\S*$")


def parse_url(url: str):
    """SQLAlchemy's ``make_url``, with an unencoded ``@`` in the password read as browsers do (the
    host starts after the LAST ``@`` that is followed by a host name): make_url splits at the first
    one, which puts the rest of the password into the host name (or port) - and into every message
    that shows them."""
    from urllib.parse import unquote

    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    bad = BadInput("not a valid database URL (shown masked: ***)",
                   hint="e.g. postgresql+psycopg://user:password@host:5432/db; write @ : / in the password "
                        "as %40 %3A %2F")
    m = re.match(r"^([\w+]+)://(.*)$", url or "", re.DOTALL)
    if m and m.group(2).count("@") > 1:
        scheme, rest = m.groups()
        host_re = re.compile(r"^(?:[\w.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:[/?]|$)")
        cut = next((i for i in range(len(rest) - 1, -1, -1) if rest[i] == "@" and host_re.match(rest[i + 1:])), -1)
        if cut > 0:
            user, _, password = rest[:cut].partition(":")
            try:
                tail = make_url(f"{scheme}://{rest[cut + 1:]}")
            except (ArgumentError, ValueError, TypeError):
                raise bad from None
            return URL.create(tail.drivername, username=unquote(user), password=unquote(password), host=tail.host,
                              port=tail.port, database=tail.database, query=tail.query)
    try:
        return make_url(url)
    except (ArgumentError, ValueError, TypeError):
        raise bad from None


def mask_url(url) -> str:
    """The URL with its password hidden (``render_as_string(hide_password=True)``); '***' when unparsable."""
    try:
        return parse_url(url).render_as_string(hide_password=True) if isinstance(url, str) else \
            url.render_as_string(hide_password=True)
    except BadInput:
        return "***"


def scrub(text: str, url) -> str:
    """A driver message with the password (and any '@'-separated piece of it) replaced by ***."""
    pw = getattr(url, "password", None)
    if pw:
        for piece in sorted({pw, *pw.split("@"), *pw.split(":")}, key=len, reverse=True):
            if len(piece) >= 3:
                text = text.replace(piece, "***")
    return text


def _mask_value(value: str) -> str:
    if not _URL_WITH_USER.match(value):
        return value
    try:
        has_password = bool(parse_url(value).password)
    except BadInput:
        return "***"  # URL-shaped but unreadable: it may still hold a password
    return mask_url(value) if has_password else value


def mask_args(args: list[str]) -> list[str]:
    """A command line as it may be recorded: every URL argument holding a password (``--url URL``,
    ``--storage=URL``, a positional URL) with the password shown as ***; everything else as given."""
    out = []
    for a in args:
        if not isinstance(a, str) or "@" not in a or "://" not in a:
            out.append(a)
        elif a.startswith("-") and "=" in a:
            opt, _, value = a.partition("=")
            out.append(f"{opt}={_mask_value(value)}")
        else:
            out.append(_mask_value(a))
    return out
