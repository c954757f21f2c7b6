"""Typed backtest requests: what `python -m engine backtest ...` parses and what the Backtest page builds.

One request model per command (:class:`RunRequest` for ``backtest MODEL_ID ...``, :class:`RuleRequest` for
``backtest rule``, :class:`SweepRequest` for ``backtest sweep``).  The CLI parses its argv into one
(:meth:`CliRequest.from_args`, engine/requests.py); the page builds one from its widgets and starts the job with
:meth:`CliRequest.argv` (a job is a CLI process), so the page never writes option strings by hand and a
field the page sets is the option the CLI reads.  Field names are the argparse ``dest`` names of
``engine/backtest/cli.py`` (a test keeps the two in step and round-trips every field).

Values are checked where they always were: :meth:`BacktestParams.validated` (costs, sizing, stops,
period) and :func:`parse_grid` (sweep grids) — their messages are part of the CLI contract.
"""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from engine.backtest.params import DEFAULT_INIT_CASH, BacktestParams
from engine.requests import CliRequest, ExecutorFields


class Request(CliRequest):
    """Fields common to every backtest command: the portfolio, costs and period."""

    command: ClassVar[tuple[str, ...]] = ("backtest",)
    positional: ClassVar[tuple[str, ...]] = ()

    symbols: list[str] = Field(default_factory=list, description="symbols (default: all the model's)")
    direction: Literal["long", "short", "both"] | None = None
    sizing: Literal["all", "percent", "value", "amount"] = "all"
    size: float | None = None
    sl_stop: float | None = None
    tp_stop: float | None = None
    sl_trail: bool = False
    fee_type: Literal["taker", "maker"] = "taker"
    fees: float | None = None
    slippage: float | None = None
    borrow_rate: float | None = None
    no_funding: bool = False
    init_cash: float = DEFAULT_INIT_CASH
    execution: Literal["next_open", "close"] = "next_open"
    start: str | None = None
    end: str | None = None
    hold_bars: int | None = None

    def params(self, *, threshold: float | None = None) -> BacktestParams:
        return BacktestParams(direction=self.direction, threshold=threshold, horizon=getattr(self, "horizon", None),
                              sizing=self.sizing, size=self.size, sl_stop=self.sl_stop, tp_stop=self.tp_stop,
                              sl_trail=self.sl_trail, fee_type=self.fee_type, fees=self.fees, slippage=self.slippage,
                              funding=False if self.no_funding else None, borrow_rate=self.borrow_rate,
                              init_cash=self.init_cash, execution=self.execution, start=self.start, end=self.end,
                              hold_bars=self.hold_bars, symbols=list(self.symbols))


class RunRequest(Request):
    """``backtest MODEL_ID [MODEL_ID ...]``: models on their out-of-sample bars."""

    positional: ClassVar[tuple[str, ...]] = ("model_ids",)
    model_ids: list[str] = Field(..., min_length=1)
    threshold: float | None = None
    horizon: str | None = None  # checked against the model's horizons when it is loaded


class _RuleFields(Request):
    timeframe: str | None = None
    fast: int = 20
    slow: int = 50
    period_of: str | None = None


class RuleRequest(_RuleFields):
    """``backtest rule``: the plain SMA-crossover baseline."""

    command: ClassVar[tuple[str, ...]] = ("backtest", "rule")
    rule: Literal["sma_cross"] = "sma_cross"


class SweepRequest(_RuleFields, ExecutorFields):
    """``backtest sweep MODEL_ID | --rule sma_cross``: a grid over thresholds x stops (its cells in chunks on
    an executor when ``executor`` / ``workers`` / ``ray_address`` is given)."""

    command: ClassVar[tuple[str, ...]] = ("backtest", "sweep")
    positional: ClassVar[tuple[str, ...]] = ("model_id",)
    model_id: str | None = None
    rule: Literal["sma_cross"] | None = None
    horizon: str | None = None  # checked against the model's horizons when it is loaded
    thresholds: str | None = None
    sl_stops: str | None = None
    tp_stops: str | None = None
    metric: str = "sharpe"
    holdout: float = 0.3
    pbo_blocks: int = 16
