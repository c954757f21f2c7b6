"""engine/ and storage/ (and config/) never import streamlit; imports go pages -> engine/storage -> config."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_engine_storage_config_never_import_streamlit():
    offenders = []
    files = [p for d in ("engine", "storage", "config") for p in (ROOT / d).rglob("*.py")]
    assert len(files) > 20
    for p in files:
        if "streamlit" in _imports(p):
            offenders.append(str(p.relative_to(ROOT)))
    assert offenders == []


def test_lower_layers_do_not_import_pages():
    for d, banned in (("engine", {"pages"}), ("storage", {"pages", "engine"}), ("config", {"pages", "engine", "storage"})):
        for p in (ROOT / d).rglob("*.py"):
            assert not (_imports(p) & banned), f"{p.relative_to(ROOT)} imports {_imports(p) & banned}"


def test_the_scan_would_catch_a_streamlit_import(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("def f():\n    import streamlit as st\n    return st\n")
    assert "streamlit" in _imports(f)
