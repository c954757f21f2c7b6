"""Optuna's own plotly charts of a stored study (``optuna.visualization``), with the layout the
other pages use (legend under the plot).  Each builder returns ``(figure | None, note)``: a chart
Optuna cannot draw (e.g. importances with fewer than two completed trials) comes back as None with
the reason, never as an exception on the page."""
from __future__ import annotations

from typing import Any

CHARTS = ("history", "importance", "parallel")


def _layout(fig: Any, title: str) -> Any:
    fig.update_layout(title={"text": title, "x": 0.0, "xanchor": "left"}, height=420, margin={"t": 60, "b": 40},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0})
    return fig


def chart(study: Any, which: str) -> tuple[Any, str]:
    import optuna
    import optuna.visualization as vis

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if which not in CHARTS:
        raise ValueError(f"unknown chart {which!r}")
    if not complete:
        return None, "no completed trial"
    try:
        if which == "history":
            return _layout(vis.plot_optimization_history(study, target_name="validation Sharpe"),
                           f"Optimisation history ({len(complete)} completed trials)"), ""
        if which == "importance":
            if len(complete) < 2:
                return None, "parameter importance needs at least 2 completed trials"
            return _layout(vis.plot_param_importances(study, target_name="validation Sharpe"),
                           f"Parameter importance (fANOVA over {len(complete)} completed trials)"), ""
        return _layout(vis.plot_parallel_coordinate(study, target_name="validation Sharpe"),
                       f"Parallel coordinates ({len(complete)} completed trials)"), ""
    except (ValueError, RuntimeError, ZeroDivisionError) as e:  # Optuna refuses degenerate studies with these
        return None, f"{which} chart unavailable: {e}"
