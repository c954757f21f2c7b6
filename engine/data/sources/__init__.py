"""Data sources, one small module per backend (files, sql, hub, sample), all yielding
:class:`engine.data.sources.base.Series` (canonical table + validation report + provenance)."""
