"""Stratified, seeded k-fold indices of the train split (``data.folds``).

The folds are index subsets of the one tokenized train split, so nothing is tokenized again;
``hpo_ray.train.kfold`` trains them.

Example::

    folds = fold_indices(train_labels, k=3, seed=42)  # [(train_idx, val_idx), ...]
"""

from __future__ import annotations

import numpy as np


def fold_indices(labels: np.ndarray, k: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """Stratified, seeded k-fold split of positions 0..len(labels)-1."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [
        (train.tolist(), val.tolist())
        for train, val in splitter.split(np.zeros(len(labels)), labels)
    ]
