"""Typed ``analyze`` request (engine/analysis/requests.py): the Analysis page builds the request the CLI parses."""
import pytest

from config.errors import BadInput
from engine.analysis.options import AnalysisOptions
from engine.analysis.requests import AnalyzeRequest
from tests.request_checks import build_parser, check_contract, round_trip

FULL = {"featureset_id": "features-1", "target": "direction_4h", "train_end": "2026-01-31T23:59:59",
        "val_end": "2026-02-28T23:59:59", "corr_threshold": 0.9, "missing_threshold": 80.0, "low_importance_pct": 10.0,
        "mi_max_rows": 5000, "min_class_rows": 30, "psi_threshold": 0.25, "ks_threshold": 0.2, "name": "my report"}


def test_every_field_round_trips_and_the_cli_options_are_the_fields():
    check_contract(AnalyzeRequest, [FULL])


def test_defaults_are_the_analysis_options_and_the_parsers():
    req = AnalyzeRequest.from_args(build_parser().parse_args(["analyze", "fs", "--target", "t"]))
    assert req.options() == AnalysisOptions() and req.argv() == ["analyze", "fs", "--target", "t"]


def test_the_page_request_is_the_command_the_cli_accepts():
    # what pages/analysis_report.py builds from its sliders and number inputs (ints where floats are asked)
    req = AnalyzeRequest.build(featureset_id="fs", target="direction_4h", corr_threshold=0.95, missing_threshold=90,
                               low_importance_pct=5, mi_max_rows=6000, min_class_rows=20, psi_threshold=0.2,
                               ks_threshold=0.1, train_end="2026-01-31T23:59:59")
    assert round_trip(req) == ["analyze", "fs", "--target", "direction_4h", "--train-end", "2026-01-31T23:59:59"]


def test_a_bad_field_is_one_line_naming_it():
    with pytest.raises(BadInput, match="mi_max_rows must be an integer"):
        AnalyzeRequest.build(featureset_id="fs", target="t", mi_max_rows=2.5)
    with pytest.raises(BadInput, match="correlation threshold"):  # the range is the options' (their message)
        AnalyzeRequest.build(featureset_id="fs", target="t", corr_threshold=1.5).options()
