"""Lazy Keras 3 / TensorFlow import with few CPU threads (TensorFlow takes ~5-8 s to import,
so only code that really loads or trains a Keras model calls :func:`keras`)."""
from __future__ import annotations

import os
from functools import lru_cache

from config import settings


@lru_cache(maxsize=1)
def keras():
    """The ``keras`` module on the TensorFlow backend, with intra-op threads capped by
    ``KLINELAB_TF_THREADS`` (default: min(2, CPUs)) and TensorFlow's chatter silenced."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    threads = settings.TF_THREADS.get() or min(2, os.cpu_count() or 1)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised by someone else in this process: keep its settings
        pass
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)  # "HDF5 is a legacy format" on every save
    except ImportError:
        pass
    import keras as k

    if k.backend.backend() != "tensorflow":
        from config.errors import BadInput

        raise BadInput(f"Keras runs on the {k.backend.backend()!r} backend; Stage 1 needs TensorFlow",
                       hint="unset KERAS_BACKEND or set it to tensorflow")
    return k
