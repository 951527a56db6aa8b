"""The objective every trial is judged by: its best ``eval_<metric>`` so far.

One rule, used by the trainable, the k-fold loop and the MLflow parent run, so the searcher, the
scheduler and best-trial selection all see the same number.

Example::

    best = RunningBest("max")
    [best.update(v) for v in (0.6, 0.7, 0.65)]  # [0.6, 0.7, 0.7]
"""

from __future__ import annotations


class RunningBest:
    """The best value seen so far, for ``mode`` ``max`` or ``min``."""

    def __init__(self, mode: str) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.mode = mode
        self.value: float | None = None

    def update(self, value: float) -> float:
        """Take one more evaluation; returns the best so far."""
        if self.value is None or (value > self.value if self.mode == "max" else value < self.value):
            self.value = value
        return self.value
