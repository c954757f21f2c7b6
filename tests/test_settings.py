"""config/settings.py: the one reader of KLINELAB_* variables and the shared constants."""
import re
from pathlib import Path

import pytest

from config import settings
from config.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent


def test_unset_or_empty_gives_the_default(monkeypatch):
    monkeypatch.delenv("KLINELAB_LOCK_TIMEOUT", raising=False)
    assert settings.LOCK_TIMEOUT.get() == 300.0
    monkeypatch.setenv("KLINELAB_LOCK_TIMEOUT", "  ")
    assert settings.LOCK_TIMEOUT.get() == 300.0
    monkeypatch.setenv("KLINELAB_LOCK_TIMEOUT", "0.3")
    assert settings.LOCK_TIMEOUT.get() == 0.3


@pytest.mark.parametrize("var,value,needle", [
    ("KLINELAB_LOCK_TIMEOUT", "abc", "KLINELAB_LOCK_TIMEOUT must be a number >= 0, got 'abc'"),
    ("KLINELAB_LOCK_TIMEOUT", "-1", "KLINELAB_LOCK_TIMEOUT must be a number >= 0, got '-1'"),
    ("KLINELAB_REMOTE_POLL_S", "0", "KLINELAB_REMOTE_POLL_S must be a number > 0"),
    ("KLINELAB_LGB_THREADS", "2.5", "KLINELAB_LGB_THREADS must be an integer in [1, 1024]"),
    ("KLINELAB_SHARED_DISK", "yes", "KLINELAB_SHARED_DISK must be one of 0, 1"),
    ("KLINELAB_ARCHIVE_MAX_MEMBERS", "nan", "KLINELAB_ARCHIVE_MAX_MEMBERS must be a number > 0"),
])
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch, var, value, needle):
    monkeypatch.setenv(var, value)
    v = next(e for e in settings.ENV if e.name == var)
    with pytest.raises(BadInput) as e:
        v.get()
    assert str(e.value) == needle or str(e.value).startswith(needle)


def test_the_workspace_root_follows_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("KLINELAB_HOME", str(tmp_path / "ws"))
    from storage.workspace import default_home

    assert settings.home() == default_home() == (tmp_path / "ws").resolve()


def test_no_module_reads_a_klinelab_variable_itself():
    """Every KLINELAB_* read goes through config.settings (tests and the settings module excepted)."""
    pattern = re.compile(r"environ(?:\.get)?\(\s*[\"']KLINELAB_|environ\[[\"']KLINELAB_|getenv\(\s*[\"']KLINELAB_")
    offenders = []
    for d in ("engine", "storage", "config", "pages"):
        for p in (ROOT / d).rglob("*.py"):
            if p.name != "settings.py" and pattern.search(p.read_text(encoding="utf-8")):
                offenders.append(str(p.relative_to(ROOT)))
    for p in (ROOT / "Home.py", ROOT / "klinelab_app.py"):
        if pattern.search(p.read_text(encoding="utf-8")):
            offenders.append(p.name)
    assert offenders == []
    names = {e.name for e in settings.ENV}
    assert len(names) == len(settings.ENV) and all(n.startswith("KLINELAB_") for n in names)


def test_shared_constants_have_one_definition():
    from engine.data.timeframes import bars_per_year
    from engine.features.config import HORIZONS as FEATURE_HORIZONS
    from engine.training.config import HORIZONS as TRAINING_HORIZONS

    assert FEATURE_HORIZONS is TRAINING_HORIZONS is settings.HORIZONS
    assert bars_per_year("15m") == 35_040 and bars_per_year("1h") == 8_760
    assert settings.YEAR_SECONDS == settings.YEAR_DAYS * 86_400
    offenders = [str(p.relative_to(ROOT)) for d in ("engine", "pages") for p in (ROOT / d).rglob("*.py")
                 if re.search(r"[\"']15m[\"'],\s*[\"']1h[\"'],\s*[\"']4h[\"'],\s*[\"']12h[\"']", p.read_text(encoding="utf-8"))]
    assert offenders == []
