"""Training losses beyond plain cross-entropy, as a ``compute_loss_func`` for the HF Trainer.

``ce`` is the model's own loss. ``weighted_ce`` weights each class by
n_samples / (n_classes * n_class) of the training split (scikit-learn's "balanced").
``focal`` is -alpha_t (1 - p_t)^gamma log p_t: gamma > 0 turns the loss away from examples the
model already gets right; alpha_t is ``focal_alpha`` for the positive class and
1 - ``focal_alpha`` for the others (binary, or multi-class with ``data.positive_label``; without a
positive class alpha_t is 1).

The Trainer treats a ``compute_loss_func`` result as already normalised for gradient
accumulation, so losses here are summed and divided by the number of items in the whole
accumulated batch when the Trainer passes it.

Example::

    loss_fn = make_loss("focal", class_weights=None, gamma=2.0, alpha=0.25, positive=1)
    Trainer(..., compute_loss_func=loss_fn)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hpo_ray.config.schema import LOSSES


def balanced_class_weights(labels: Any, num_labels: int) -> list[float]:
    """scikit-learn's balanced weights for the classes present in a training split."""
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels)
    present = np.unique(labels)
    weights = np.ones(num_labels)
    weights[present] = compute_class_weight("balanced", classes=present, y=labels)
    return [float(w) for w in weights]


def make_loss(
    kind: str,
    *,
    class_weights: list[float] | None,
    gamma: float,
    alpha: float,
    positive: int | None,
) -> Callable[..., Any] | None:
    """The loss function for ``kind``; None means the model's own cross-entropy."""
    if kind == "ce":
        return None
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; choose one of {LOSSES}")

    def loss_fn(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
        import torch
        import torch.nn.functional as F

        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        logits = logits.float()
        if kind == "weighted_ce":
            weight = torch.tensor(class_weights, dtype=logits.dtype, device=logits.device)
            per_item = F.cross_entropy(logits, labels, weight=weight, reduction="none")
        else:
            logp = F.log_softmax(logits, dim=-1).gather(1, labels[:, None]).squeeze(1)
            focus = (1.0 - logp.exp()).clamp(min=0.0) ** gamma
            if positive is None:
                alpha_t = torch.ones_like(logp)
            else:
                alpha_t = torch.where(labels == positive, alpha, 1.0 - alpha).to(logp.dtype)
            per_item = -alpha_t * focus * logp
        if num_items_in_batch is not None:
            return per_item.sum() / num_items_in_batch
        return per_item.mean()

    return loss_fn
