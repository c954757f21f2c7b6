"""Features and targets (SPEC 4): a registry of leakage-free feature definitions grouped in
families, the 24 targets, ZigZag pivots and labels, the leakage audit, the cached build
pipeline (``features build``) and the loader of feature-set artifacts
(:func:`engine.features.store.load_feature_set`)."""
