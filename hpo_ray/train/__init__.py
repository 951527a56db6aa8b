"""Training: models and tokenizers, losses, metrics, the Trainer glue, the k-fold loop, the
Tune trainable and the files each trial writes. Runs in the Ray workers (and in the refit)."""
