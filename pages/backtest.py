from pages.ui import not_built

not_built("Backtest", "backtest any model's out-of-sample signals with vectorbt")
