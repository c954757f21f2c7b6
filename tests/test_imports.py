"""Every direct dependency in requirements.txt installs and imports together, at the pinned version."""
import importlib
import importlib.metadata as md
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE = {"huggingface_hub": "huggingface_hub", "scikit-learn": "sklearn", "TA-Lib": "talib", "PyYAML": "yaml",
          "psycopg[binary]": "psycopg", "pytest-timeout": "pytest_timeout", "pytest-xdist": "xdist"}


def test_requirements_are_pinned_installed_and_importable_together():
    reqs = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([\w.+]+)", line)
        assert m, f"not pinned: {line}"
        reqs.append((m.group(1), m.group(2)))
    names = {n for n, _ in reqs}
    for must in ("streamlit", "plotly", "huggingface_hub", "paramiko", "pandas", "polars", "torch", "lightgbm",
                 "tensorflow", "scikit-learn", "vectorbt", "sqlalchemy", "duckdb", "pytest", "TA-Lib", "pyarrow", "playwright"):
        assert must in names, must
    for name, version in reqs:
        dist = name.split("[")[0]
        assert md.version(dist).split("+")[0] == version.split("+")[0], f"{dist} {md.version(dist)} != {version}"
        importlib.import_module(MODULE.get(name, dist.replace("-", "_").lower()))
