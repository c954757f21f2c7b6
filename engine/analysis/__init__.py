"""Feature-analysis reports (SPEC 5): statistics, importance, outliers, by-class statistics,
correlations and exclusions on the TRAIN split of a feature set, drift to validation / test,
a self-contained HTML report and static images, written as an ``analysis`` artifact.

Modules: ``options`` (thresholds), ``statistics``, ``importance``, ``outliers``, ``by_class``,
``correlation``, ``exclusions``, ``drift`` (computations on arrays), ``core`` (validation + the
whole analysis on plain tables), ``view`` (a report as tables, in memory or read back),
``html`` and ``static_plots`` (outputs), ``pipeline`` (feature set -> artifact), ``report``
(reading reports, whitelists), ``cli``.
"""
