"""Reading tuning artifacts: the summary, the per-trial table and the study (a journal copy, for
Optuna's own charts)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from config.errors import NotFound
from storage.artifacts import artifact_path, read_manifest
from storage.workspace import Workspace


@dataclass
class Tuning:
    id: str
    manifest: Any
    path: Path

    @property
    def summary(self) -> dict[str, Any]:
        from engine.tuning.study import SUMMARY_FILE

        p = self.path / SUMMARY_FILE
        return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else dict(self.manifest.extra or {})

    def trials(self) -> pd.DataFrame:
        from engine.tuning.study import TRIALS_FILE

        p = self.path / TRIALS_FILE
        return pd.read_csv(p) if p.is_file() else pd.DataFrame()

    def study(self):
        """The study, read from the artifact's journal copy (read-only use)."""
        import optuna
        from optuna.storages.journal import JournalFileBackend

        from engine.tuning.study import ARTIFACT_JOURNAL

        p = self.path / ARTIFACT_JOURNAL
        if not p.is_file():
            raise NotFound(f"tuning {self.id} has no {ARTIFACT_JOURNAL}")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = optuna.storages.JournalStorage(JournalFileBackend(str(p)))
        return optuna.load_study(study_name=self.manifest.params.get("study_name"), storage=storage)


def load_tuning(ws: Workspace, tuning_id: str) -> Tuning:
    m = read_manifest(ws, tuning_id, "tuning")
    return Tuning(tuning_id, m, artifact_path(ws, tuning_id, "tuning"))


def list_tunings(ws: Workspace) -> list[dict[str, Any]]:
    from storage.artifacts import list_manifests

    out = []
    for m in list_manifests(ws, "tuning"):
        mt = m.metrics or {}
        out.append({"id": m.id, "name": m.name, "created_at": m.created_at, "kind": (m.params or {}).get("kind"),
                    "featureset_id": (m.params or {}).get("featureset_id"), "n_trials": mt.get("n_trials"),
                    "n_complete": mt.get("n_complete"), "best_value": mt.get("best_value"),
                    "deflated_sharpe": mt.get("deflated_sharpe"), "holdout_sharpe": mt.get("holdout_sharpe"),
                    "holdout_periods": mt.get("holdout_periods")})
    return sorted(out, key=lambda r: r["created_at"] or "", reverse=True)
