"""The one schema every manifest that comes from outside passes before it is adopted or indexed
(archive, SSH, Hub downloads; ``catalog refresh / rebuild``; every ``Manifest.read``).

pydantic 2 (strict mode: no coercion, so ``"metrics": [1, 2]`` or ``"size": "12"`` are refused)
checks the field types; the validators add what types cannot say: the id and kind grammar,
file paths that stay inside the artifact (relative, no '..', no absolute path, no backslash
tricks), sizes >= 0 and sha256 digests of 64 hex digits.  ``check_folder`` then checks that a
manifest's id and kind match the folder it was found in (``artifacts/<kind>/<id>/`` or
``jobs/<id>/``), so one manifest can never shadow another artifact.
Messages name the field and the rule, never the (possibly huge) offending value.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config.errors import BadInput, Refused
from storage.workspace import _ID_RE, KINDS

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
Str = Annotated[str, Field(max_length=100_000)]
MAX_NAME, MAX_TAG, MAX_TAGS, MAX_NOTE = 200, 40, 50, 10_000  # what a user may type (rename / tag / note)
_TAG_RE = re.compile(r"^[^\W_][\w.:+/-]*$")
ShortStr = Annotated[str, Field(max_length=400)]


def check_relpath(path: str) -> str:
    """A plain relative path inside the artifact (raises ValueError otherwise)."""
    parts = path.split("/")
    if (not path or path.startswith("/") or "\\" in path or "\x00" in path or ":" in parts[0]
            or any(p in ("", ".", "..") for p in parts)):
        raise ValueError("file path must be relative and stay inside the artifact (no '..', no absolute path)")
    return path


class FileEntryModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    path: Annotated[str, Field(max_length=1000)]
    size: Annotated[int, Field(ge=0)]
    sha256: str

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return check_relpath(v)

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str) -> str:
        if not _SHA_RE.match(v):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return v


class ManifestModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    id: str
    kind: str
    name: Str = ""
    created_at: ShortStr | None = None
    symbols: list[ShortStr] = []
    timeframe: ShortStr | None = None
    params: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    parents: list[ShortStr] = []
    files: list[FileEntryModel] = []
    origin: ShortStr = "local"
    code_version: ShortStr | None = None
    start: ShortStr | None = None
    end: ShortStr | None = None
    extra: dict[str, Any] = {}
    tags: Annotated[list[ShortStr], Field(max_length=1000)] = []  # user-typed ones: check_tag (stricter)
    note: Str = ""
    edited_at: ShortStr | None = None
    schema_version: int = 1

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID_RE.match(v) or ".." in v:
            raise ValueError("id must use letters, digits, '.', '_' and '-' (at most 200)")
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        return v


_DEFAULTS = {"symbols": list, "parents": list, "files": list, "params": dict, "metrics": dict, "extra": dict,
             "tags": list}


def validate_manifest(data: Any, *, source: str = "manifest") -> dict[str, Any]:
    """The checked manifest as a plain dict (null lists / dicts read as empty); BadInput naming the
    first bad field otherwise."""
    if not isinstance(data, dict):
        raise BadInput(f"{source} is not a JSON object")
    d = dict(data)
    for key, make in _DEFAULTS.items():
        if d.get(key, 0) is None:
            d[key] = make()
    for key in ("name", "origin", "note"):
        if d.get(key, 0) is None:
            d.pop(key)
    try:
        m = ManifestModel.model_validate(d)
    except ValidationError as e:
        errs = e.errors(include_input=False, include_url=False)
        first = errs[0]
        loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
        more = f" (and {len(errs) - 1} more problem(s))" if len(errs) > 1 else ""
        if len(first["loc"]) == 3 and first["loc"][0] == "files" and first["loc"][2] == "path" \
                and first["type"] == "value_error":
            raise Refused(f"{source}: unsafe path in field {loc} refused (it must stay inside the artifact)") from None
        raise BadInput(f"{source}: field {loc}: {first['msg']}{more}") from None
    return upgrade_legacy_names(m.model_dump())


# Names an older KlineLab wrote, read under today's name (docs/ARCHITECTURE.md, "Glossary: one term per
# thing"): kind -> {old params key: new params key}.  The one legacy read path: every manifest read
# (Manifest.read, the catalog, adoption of downloads) passes validate_manifest; files are never rewritten
# here, a manifest written again (rename, tag, ...) is written with the new names.
LEGACY_PARAMS: dict[str, dict[str, str]] = {
    "model": {"featureset": "featureset_id", "report": "report_id"},  # until the glossary (issue 14)
}


def upgrade_legacy_names(m: dict[str, Any]) -> dict[str, Any]:
    """``m`` (a checked manifest dict) with the legacy params keys of its kind renamed; a key present
    under both names keeps the new one's value."""
    renames = LEGACY_PARAMS.get(m.get("kind"), {})
    params = m.get("params") or {}
    if not any(old in params for old in renames):
        return m
    new_params = {}
    for k, v in params.items():
        new = renames.get(k)
        if new is None:
            new_params[k] = v
        elif new not in params:
            new_params[new] = v
    return m | {"params": new_params}


def check_folder(m_id: str, m_kind: str, directory: Path, *, source: str = "manifest") -> None:
    """The id and kind must match the folder (``artifacts/<kind>/<id>`` or ``jobs/<id>``)."""
    d = Path(directory)
    parent = d.parent.name
    if d.name != m_id or not (parent == m_kind or (m_kind == "job" and parent == "jobs")):
        raise BadInput(f"{source}: the manifest says {m_kind} {m_id[:210]!r}, but it lies in {parent}/{d.name}",
                       hint="a manifest must describe the folder it is in; it is skipped")


# -- what a user types: name, tags, note (catalog rename | tag | note, the pages' artifact widget) ----------
def _control_chars(text: str, allowed: str = "") -> list[str]:
    import unicodedata

    return [c for c in text if c not in allowed and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co")]


def check_name(value: Any) -> str:
    """A user-given artifact name: 1..200 characters after trimming, no control characters."""
    from config.bounded import short_repr

    if not isinstance(value, str):
        raise BadInput("an artifact name must be text")
    text = value.strip()
    if not text:
        raise BadInput("an artifact name cannot be empty", hint="type a few words, e.g. 'direction BTCUSDT 15m v2'")
    if len(text) > MAX_NAME:
        raise BadInput(f"an artifact name is at most {MAX_NAME} characters (got {len(text):,})", hint="shorten it; "
                       "put longer text in the note")
    bad = _control_chars(text)
    if bad:
        raise BadInput(f"the name {short_repr(text)} contains a control character ({bad[0]!r})",
                       hint="use printable characters only")
    return text


def check_tag(value: Any) -> str:
    """One tag: a word of letters, digits and . : + / - (up to 40 characters); a list ('a,b', 'a b') is refused."""
    from config.bounded import short_repr

    if not isinstance(value, str):
        raise BadInput("a tag must be text")
    text = value.strip()
    if not text:
        raise BadInput("a tag cannot be empty")
    if any(c in text for c in ",; ") or "\t" in text:
        raise BadInput(f"{short_repr(text)} is a list, not one tag", hint="give each tag on its own: --add a --add b")
    if len(text) > MAX_TAG:
        raise BadInput(f"a tag is at most {MAX_TAG} characters (got {len(text):,})")
    if _control_chars(text) or not _TAG_RE.match(text):
        raise BadInput(f"the tag {short_repr(text)} is not a plain word",
                       hint="tags use letters, digits and . : + / - and start with a letter or digit")
    return text


def check_note(value: Any) -> str:
    """A free-text note: up to 10,000 characters; line breaks and tabs allowed, other control characters not."""
    if not isinstance(value, str):
        raise BadInput("a note must be text")
    text = value.strip()
    if len(text) > MAX_NOTE:
        raise BadInput(f"a note is at most {MAX_NOTE:,} characters (got {len(text):,})")
    bad = _control_chars(text, allowed="\n\t\r")
    if bad:
        raise BadInput(f"the note contains a control character ({bad[0]!r})", hint="use printable characters only")
    return text
