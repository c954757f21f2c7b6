"""Typed ``features build`` request (engine/features/requests.py): the Features page builds the request the CLI parses."""
import pytest

from config.errors import BadInput
from engine.features.requests import FeaturesBuildRequest
from tests.request_checks import check_contract, round_trip

FULL = {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframe": "1h", "families": ["trend", "returns"], "start": "2026-01-01",
        "end": "2026-02-01 23:59:59", "config": "my-features.yaml", "name": "two coins", "no_cache": True, "no_audit": True}


def test_every_field_round_trips_and_the_cli_options_are_the_fields():
    check_contract(FeaturesBuildRequest, [FULL])


def test_the_page_request_is_the_command_the_cli_accepts():
    # what pages/features.py builds: all families = no --families, a date range by whole days
    req = FeaturesBuildRequest.build(symbols=["BTCUSDT"], timeframe="15m", families=None, start="2026-01-01",
                                     end="2026-01-31 23:59:59")
    assert round_trip(req) == ["features", "build", "--symbols", "BTCUSDT", "--timeframe", "15m", "--start", "2026-01-01",
                               "--end", "2026-01-31 23:59:59"]


def test_an_empty_families_option_still_reaches_the_cli_message():
    from tests.request_checks import build_parser

    req = FeaturesBuildRequest.from_args(build_parser().parse_args(["features", "build", "--symbols", "BTCUSDT",
                                                                    "--timeframe", "15m", "--families", " , "]))
    assert req.families == []


def test_a_bad_field_is_one_line_naming_it():
    with pytest.raises(BadInput, match="symbols must be a non-empty list"):
        FeaturesBuildRequest.build(symbols=[], timeframe="15m")
    with pytest.raises(BadInput, match="unknown key"):
        FeaturesBuildRequest.build(symbols=["BTCUSDT"], timeframe="15m", familes=["trend"])
