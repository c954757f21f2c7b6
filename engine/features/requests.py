"""Typed ``features`` requests: what ``python -m engine features build`` parses and what the Features page
builds (engine/requests.py; field names are the argparse ``dest`` names of engine/features/cli.py)."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from engine.requests import CliRequest


class FeaturesBuildRequest(CliRequest):
    """``features build --symbols A,B --timeframe TF [--families ...] [--start ...] [--end ...]``."""

    command: ClassVar[tuple[str, ...]] = ("features", "build")
    symbols: list[str] = Field(..., min_length=1, description="symbols of the set")
    timeframe: str
    families: list[str] | None = Field(None, description="feature families (default: all); [] is refused by the CLI")
    start: str | None = None
    end: str | None = None
    config: str | None = None
    name: str | None = None
    no_cache: bool = False
    no_audit: bool = False
