"""Hyperparameter tuning with Optuna (issue 16 item 3): ``python -m engine tune run ...``.

* ``space``: the search space (defaults per kind or a YAML file), validated against the training
  config's own ranges; ``objective``: what a trial measures (purged walk-forward VALIDATION folds,
  a per-fold figure reported to the pruner) and the held-out confirmation; ``study``: storage,
  executor, selection (deflated Sharpe with N = completed trials), the tuning artifact; ``store``:
  reading it back; ``plots``: Optuna's plotly charts of a stored study.
"""

# the CLI's defaults, here so that building the parser imports nothing heavy
KINDS = ("direction", "stage2")
DEFAULT_HOLDOUT = 0.2
DEFAULT_FOLDS = 3
DEFAULT_VAL_FRAC = 0.2
