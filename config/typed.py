"""The one validation layer: pydantic 2 models whose errors become ONE ``BadInput`` line naming the
field and what it accepts (its type and allowed range, read from the model itself).

Every YAML config (training presets, ``config/features.yaml``, ``config/costs.yaml``), every option
set (analysis, Stage 1 / Stage 2, backtest) and every page/CLI request model derives from
:class:`Strict` and is validated with :func:`validate`:

    class Section(Strict):
        epochs: int = Field(30, ge=1, le=10_000, description="...")

    validate(Section, {"epochs": 0}, "my.yaml")
    # BadInput: my.yaml: epochs must be an integer in [1, 10000], got 0

Ranges and defaults live in the ``Field(...)`` of the model and nowhere else.  Strict types: ``1`` is
not ``true``, ``2.5`` is not an integer, ``"3"`` is not a number, NaN / inf are refused; unknown keys
are errors (``unknown key(s) 'epochz'``).  ``Text`` is a string that also takes YAML's dates and
numbers (``start: 2025-06-01`` is read by YAML as a date).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import types
import typing
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import annotated_types as at
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo

from config.bounded import short_repr
from config.errors import BadInput

M = TypeVar("M", bound=BaseModel)


def _to_text(v: Any) -> Any:
    if isinstance(v, bool):
        return v  # refused by the str check
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v.isoformat()
    if isinstance(v, (int, float)):
        return str(v)
    return v


Text = Annotated[str, BeforeValidator(_to_text)]
"""A string that also accepts what YAML reads as a date or a number (``2025-06-01``, ``15``)."""


class Strict(BaseModel):
    """Base of every config / request model: strict types, unknown keys refused, no NaN / inf.
    A section given as ``null`` (``training:`` with nothing under it) takes its defaults."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    # how messages read: "must" -> ``x must be a number in [0, 5], got -1``, unknown keys quoted;
    # "range" (config/features.yaml's wording since its first release) -> ``x = -1 is out of range:
    # must be a number in [0, 5]``, unknown / missing keys unquoted
    messages: ClassVar[str] = "must"

    @model_validator(mode="before")
    @classmethod
    def _none_is_empty(cls, data: Any) -> Any:
        return {} if data is None else data

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="python")


# -- messages ------------------------------------------------------------------------------------
_PLURAL = {int: "integers", float: "numbers", bool: "booleans", str: "strings"}


def _strip(tp: Any) -> tuple[Any, list]:
    """(the bare type, the constraints of any ``Annotated`` around it)."""
    meta: list = []
    while typing.get_origin(tp) is Annotated:
        tp, *extra = typing.get_args(tp)
        for m in extra:
            meta += list(m.metadata) if isinstance(m, FieldInfo) else [m]
    return tp, meta


def _optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def type_name(tp: Any) -> str:
    """``an integer``, ``a number or null``, ``one of auto, cpu``, ``a list of strings`` ..."""
    tp, _ = _strip(tp)
    inner, opt = _optional(tp)
    if opt:
        return type_name(inner) + " or null"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(tp)))
    if origin in (list, tuple):
        return f"a list of {_PLURAL.get(_strip(typing.get_args(tp)[0])[0], 'values')}"
    if origin is dict:
        return f"a mapping of names to {_PLURAL.get(_strip(typing.get_args(tp)[1])[0], 'values')}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "a mapping of keys to values"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


def bounds_text(meta: list) -> str:
    """`` in [1, 10]``, `` in (0, 1]``, `` >= 0``, `` > 0``, `` <= 5`` or ``""`` from annotated-types constraints."""
    lo = hi = None
    lo_open = hi_open = False
    for m in meta:
        if isinstance(m, at.Ge):
            lo = m.ge
        elif isinstance(m, at.Gt):
            lo, lo_open = m.gt, True
        elif isinstance(m, at.Le):
            hi = m.le
        elif isinstance(m, at.Lt):
            hi, hi_open = m.lt, True
        elif isinstance(m, at.Interval):
            lo, lo_open = (m.gt, True) if m.gt is not None else (m.ge, False)
            hi, hi_open = (m.lt, True) if m.lt is not None else (m.le, False)

    def fmt(v: float) -> str:
        return str(v) if isinstance(v, int) else f"{v:g}"

    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" {'>' if lo_open else '>='} {fmt(lo)}"
    if lo is None:
        return f" {'<' if hi_open else '<='} {fmt(hi)}"
    return f" in {'(' if lo_open else '['}{fmt(lo)}, {fmt(hi)}{')' if hi_open else ']'}"


def _resolve(model: type[BaseModel], loc: tuple) -> tuple[str, Any, list, type[BaseModel] | None]:
    """Walk ``loc`` through the model: (dotted name, the type there, its constraints, the model that
    holds the last key)."""
    tp: Any = model
    meta: list = []
    where = ""
    holder: type[BaseModel] | None = model
    for part in loc:
        bare, _ = _strip(tp)
        bare, _ = _optional(bare)
        if isinstance(bare, type) and issubclass(bare, BaseModel):
            holder = bare
            f = bare.model_fields.get(str(part))
            if f is None:
                return f"{where}.{part}" if where else str(part), Any, [], holder
            tp, meta = f.annotation, list(f.metadata)
            where = f"{where}.{part}" if where else str(part)
            continue
        origin = typing.get_origin(bare)
        if origin in (list, tuple) and isinstance(part, int):
            tp, meta = typing.get_args(bare)[0], []
            where = f"{where}[{part}]"
        elif origin is dict:
            tp = typing.get_args(bare)[1]  # a value keeps the field's range (e.g. weights >= 0)
            where = f"{where}.{part}"
        else:  # a union member tag or a validator's own location: stop here
            break
        tp, extra = _strip(tp)
        meta = meta + extra
    return where, tp, meta, holder


_RANGE = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def message(model: type[BaseModel], err: ValidationError) -> BadInput:
    """The first problem of ``err`` as one line (unknown / missing keys of one section are listed together)."""
    errors = err.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    style = getattr(model, "messages", "must")
    if first["type"] in ("extra_forbidden", "missing"):
        parent = loc[:-1]
        keys = [e["loc"][-1] for e in errors if e["type"] == first["type"] and tuple(e["loc"][:-1]) == parent]
        where, tp, _, holder = _resolve(model, parent)
        bare = _optional(_strip(tp)[0])[0]
        holder = model if not parent else (bare if isinstance(bare, type) and issubclass(bare, BaseModel) else holder)
        q = (lambda k: short_repr(k, 60)) if style == "must" else (lambda k: str(k)[:40])
        shown = ", ".join(q(k) for k in keys[:8]) + (", ..." if len(keys) > 8 else "")
        known = ", ".join(holder.model_fields) if holder else ""
        what = "unknown" if first["type"] == "extra_forbidden" else "missing"
        return BadInput(f"{where + ': ' if where else ''}{what} key(s) {shown}", hint=f"known keys: {known}")
    where, tp, meta, _ = _resolve(model, loc)
    if first["type"] in ("value_error", "assertion_error") or tp is Any:
        text = str(first.get("ctx", {}).get("error") or first["msg"])
        return BadInput(f"{where}: {text}" if where else text)
    bare = _optional(_strip(tp)[0])[0]
    if (isinstance(bare, type) and issubclass(bare, BaseModel)) or not where:
        return BadInput(f"{where or 'the config'} must be a mapping of keys to values, got {type(first['input']).__name__}")
    meta = meta + _strip(_optional(_strip(tp)[0])[0])[1]  # a range inside ``X | None``
    # ``Annotated[float, at.Gt(0), at.doc("correlation threshold")]``: the words a message uses for the field
    # (``correlation threshold (corr_threshold) must be ...``) where an older message named it so
    label = next((m.documentation for m in meta if isinstance(m, at.DocInfo)), None)
    where = f"{label} ({where})" if label else where
    want = f"{type_name(tp)}{bounds_text(meta)}"
    if first["type"] == "too_short":
        want = want.replace("a list", "a non-empty list", 1)
    if style == "range" and first["type"] in _RANGE:
        return BadInput(f"{where} = {short_repr(first['input'])} is out of range: must be {want}")
    return BadInput(f"{where} must be {want}, got {short_repr(first['input'])}")


def validate(model: type[M], data: Any, source: str | None = None) -> M:
    """``model`` built from ``data`` (a mapping), or BadInput ``"{source}: {field} must be ..."``."""
    if data is not None and not isinstance(data, dict):
        e = BadInput(f"the config must be a mapping of keys to values, got {type(data).__name__}")
    else:
        try:
            return model.model_validate(data or {})
        except ValidationError as err:
            e = message(model, err)
    raise BadInput(f"{source}: {e.message}" if source else e.message, hint=e.hint) from None


@functools.cache
def _model_of(cls: type) -> type[BaseModel]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return create_model(cls.__name__, __base__=Strict,
                        **{f.name: (hints[f.name], ...) for f in dataclasses.fields(cls)})


def check_fields(obj: Any, source: str | None = None) -> Any:
    """Check a dataclass instance's fields against their annotated types and ranges
    (``epochs: Annotated[int, Field(ge=1)] = 10``) -> ``obj``, or BadInput naming the field.

    For option sets that stay plain dataclasses (built field by field by the CLI and stored with
    ``asdict``): the ranges still live in one place, the annotations, and pydantic checks them."""
    validate(_model_of(type(obj)), {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, source)
    return obj


def check_value(tp: Any, value: Any, what: str) -> Any:
    """One value against a type with constraints (``Annotated[float, Field(ge=0)]``), e.g. an
    environment variable; BadInput ``"{what} must be a number >= 0, got 'abc'"``."""
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(tp, config=ConfigDict(strict=False, allow_inf_nan=False)).validate_python(value)
    except ValidationError:
        bare, meta = _strip(tp)
        raise BadInput(f"{what} must be {type_name(bare)}{bounds_text(meta)}, got {short_repr(value)}") from None
