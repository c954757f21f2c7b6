"""Config files: the four presets load, base.yaml equals the defaults, and unknown keys or
bad values are errors that name the file and the key."""
import pytest

from config.errors import BadInput
from engine.training.config import PRESETS, TrainConfig, load_config, loads


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load_and_pass_the_model_checks(name):
    cfg = load_config(name)
    assert cfg.check_for("patchtst") is cfg and cfg.check_for("direction") is cfg


def test_base_yaml_spells_out_exactly_the_defaults():
    assert load_config("base") == TrainConfig()


def test_presets_differ_where_they_should():
    test, prod, anti = load_config("test"), load_config("production"), load_config("anti_overfit")
    assert test.training.device == "cpu" and test.training.num_threads == 1 and test.data.last_bars
    assert prod.model.patchtst.d_model > TrainConfig().model.patchtst.d_model and prod.training.checkpoint_every_steps > 0
    assert anti.model.patchtst.dropout > TrainConfig().model.patchtst.dropout and anti.loss.label_smoothing > 0


@pytest.mark.parametrize("text,needle", [
    ("trainig: {epochs: 3}", "unknown key(s) 'trainig'"),
    ("training: {epochz: 3}", "training: unknown key(s) 'epochz'"),
    ("model: {patchtst: {d_modle: 3}}", "model.patchtst: unknown key(s) 'd_modle'"),
    ("training: {batch_size: abc}", "training.batch_size must be an integer in [1, 1048576], got 'abc'"),
    ("training: {batch_size: 0}", "training.batch_size must be an integer"),
    ("training: {batch_size: 2.5}", "training.batch_size must be an integer"),
    ("training: {lr: 0}", "training.lr must be a number in (0, 1], got 0"),
    ("training: {early_stopping_patience: -1}", "training.early_stopping_patience must be an integer >= 0"),
    ("training: {amp: fp8}", "training.amp must be one of auto, bf16, fp16, off"),
    ("training: {tf32: 1}", "training.tf32 must be true or false"),
    ("model: {patchtst: {dropout: 1.5}}", "model.patchtst.dropout must be a number in [0, 0.9]"),
    ("data: {symbols: BTCUSDT}", "data.symbols must be a list of strings or null"),
    ("loss: {target_weights: {future_return_1h: heavy}}", "loss.target_weights.future_return_1h must be a number"),
    ("training: [1, 2]", "training must be a mapping"),
    ("- 1\n- 2", "the config must be a mapping"),
    ("training: {epochs: 3", "not valid YAML"),
])
def test_bad_configs_are_errors_naming_the_key(text, needle):
    with pytest.raises(BadInput) as e:
        loads(text, "my.yaml")
    assert needle in str(e.value) and str(e.value).startswith("my.yaml")


@pytest.mark.parametrize("text,model,needle", [
    ("data: {horizons: [2h]}", "direction", "data.horizons must be a non-empty list"),
    ("data: {horizons: [1h, 1h]}", "direction", "lists a horizon twice"),
    ("model: {patchtst: {d_model: 30, n_heads: 4}}", "patchtst", "divisible by n_heads"),
    ("data: {context_window: 8}", "patchtst", "exceeds data.context_window"),
    ("split: {train_frac: 0.8, val_frac: 0.2}", "patchtst", "must be below 1"),
    ("split: {mode: walk_forward, walk_mode: rolling}", "patchtst", "train_bars is required"),
    ("loss: {direction: {ce_weight: 0, pnl_weight: 0}}", "direction", "cannot both be 0"),
    ("loss: {type_weights: {ordinal: 1}}", "patchtst", "unknown target type"),
])
def test_cross_field_checks(text, model, needle):
    with pytest.raises(BadInput, match=needle.replace("(", r"\(").replace(")", r"\)")):
        loads(text).check_for(model)


def test_missing_file_and_dates(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "c.yaml"
    p.write_text("data: {start: 2025-06-01, end: '2025-09-01 12:00'}\n")
    cfg = load_config(p)
    assert cfg.data.start == "2025-06-01" and cfg.data.end == "2025-09-01 12:00"
