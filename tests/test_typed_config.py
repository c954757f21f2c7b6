"""One typed configuration layer (config/typed.py): every config and option set reports a bad value as one
line naming the field and what it accepts, from the ranges declared once on the model."""
import pytest

from config.errors import BadInput


def test_costs_file_is_a_schema(tmp_path, monkeypatch):
    from engine.costs import load_costs

    p = tmp_path / "costs.yaml"
    for text, needle in [("fees: {spot: {taker: 0.5}}", "fees.spot.taker must be a number or null in [0, 0.1), got 0.5"),
                         ("slipage: 0.001", "unknown key(s) 'slipage'"),
                         ("perp_direction: sideways", "perp_direction must be one of long, short, both"),
                         ("funding: 1", "funding must be true or false")]:
        p.write_text(text)
        with pytest.raises(BadInput) as e:
            load_costs(p)
        assert needle in str(e.value) and str(e.value).startswith("costs: costs.yaml: ")
    p.write_text("fees: {perp: {maker: 0.0001}}\nborrow_rate: 0.2\n")
    c = load_costs(p)
    assert c.perp_maker == 0.0001 and c.borrow_rate == 0.2 and c.spot_taker == 0.001  # the rest keeps its default
    with pytest.raises(BadInput, match="costs: slippage must be a number in \\[0, 0.1\\), got -1"):
        c.with_overrides(slippage=-1)


@pytest.mark.parametrize("build,needle", [
    (lambda: __import__("engine.analysis.options", fromlist=["x"]).AnalysisOptions(corr_threshold=1.5),
     "analysis options: correlation threshold (corr_threshold) must be a number in (0, 1), got 1.5"),
    (lambda: __import__("engine.analysis.options", fromlist=["x"]).AnalysisOptions(top_n=True),
     "analysis options: top_n must be an integer >= 1, got True"),
    (lambda: __import__("engine.stage2.stage2", fromlist=["x"]).Stage2Config(cv_folds=1).check(),
     "stage2: cv_folds must be an integer >= 2, got 1"),
    (lambda: __import__("engine.stage2.stage2", fromlist=["x"]).Stage2Config(pass_rate=1.0).check(),
     "stage2: pass_rate must be a number or null in (0, 1), got 1.0"),
    (lambda: __import__("engine.stage2.stage1_train", fromlist=["x"]).Stage1TrainConfig(classes=3).check(),
     "stage1: classes must be one of 2, 5, got 3"),
    (lambda: __import__("engine.stage2.stage1_train", fromlist=["x"]).Stage1TrainConfig(dropout=1.0).check(),
     "stage1: dropout must be a number in [0, 1), got 1.0"),
])
def test_option_sets_name_the_field_and_its_range(build, needle):
    with pytest.raises(BadInput) as e:
        build()
    assert str(e.value) == needle


def test_defaults_pass_and_stay_plain_dataclasses():
    from dataclasses import asdict

    from engine.analysis.options import AnalysisOptions
    from engine.stage2.stage1_train import Stage1TrainConfig
    from engine.stage2.stage2 import Stage2Config

    assert AnalysisOptions().to_dict()["mi_max_rows"] == 6_000
    assert asdict(Stage1TrainConfig().check())["classes"] == 2 and asdict(Stage2Config().check())["cv_folds"] == 5


def test_train_request_round_trips_through_the_command_line():
    from engine.cli import build_parser
    from engine.training.config import TrainRequest

    req = TrainRequest.build(model="patchtst", config="test", featureset="fs-1", report="rep-1",
                             targets=["direction_1h", "future_return_4h"], name="a run", remote="gpu")
    assert TrainRequest.from_args(build_parser().parse_args(req.argv())) == req
    assert TrainRequest.build(model="direction", config="base", name="", targets=[]).argv() == [
        "train", "direction", "--config", "base"]
    with pytest.raises(BadInput, match="train TrainRequest: unknown key"):
        TrainRequest.build(model="direction", config="base", epochs=3)
