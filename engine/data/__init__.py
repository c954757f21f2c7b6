"""Data layer (SPEC 3): sources -> normalised canonical OHLCV -> validation -> Parquet per
symbol x timeframe in the workspace (artifact kind ``ohlcv``).

Use :func:`engine.data.store.load_candles` to read candles anywhere in the engine.
"""
