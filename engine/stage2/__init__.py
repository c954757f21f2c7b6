"""Two-stage ZigZag pipeline (SPEC 7).

* Stage 1 (``stage1``, ``stage1_io``, ``stage1_train``): a Keras classifier over windows of
  features that flags bars where a ZigZag pivot forms.  Imported from the Hub layout
  ``v1_model/{SYMBOL}/{tf}/classification.h5 + params.json`` (or a local folder), or trained here.
* Filtering (``filtering``): signal = 1 - P(no pivot) above a threshold.
* Stage 2 (``stage2``): LightGBM 4-class (HH, LH, HL, LL = 0..3) on signal bars that are real
  pivots, early stopping on validation, 5-fold time-ordered CV, summary report.
* Batch (``batch``): every symbol x timeframe pair as one resumable job.

``data`` reads a pair's features and ZigZag labels from a feature set, ``pipeline`` is what the
CLI (``cli``), the batch and the page call, ``progress`` scopes job progress for nested steps.

TensorFlow is imported lazily (``tfkeras``), only where a Keras model is loaded or trained.
"""
