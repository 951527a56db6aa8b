"""Losses on fixed logits, against hand-computed values and torch's own cross-entropy."""

import math

import pytest
import torch
import torch.nn.functional as F

from hpo_ray.train.losses import balanced_class_weights, make_loss

LOGITS = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, -0.5]])
LABELS = torch.tensor([0, 1, 1, 1])


def outputs(logits):
    return {"logits": logits}


def test_ce_is_the_model_loss():
    assert make_loss("ce", class_weights=None, gamma=2.0, alpha=0.25, positive=1) is None


def test_weighted_ce_matches_torch_per_item():
    weights = [3.0, 1.0]
    fn = make_loss("weighted_ce", class_weights=weights, gamma=0, alpha=0, positive=1)
    per_item = F.cross_entropy(LOGITS, LABELS, weight=torch.tensor(weights), reduction="none")
    assert fn(outputs(LOGITS), LABELS).item() == pytest.approx(per_item.mean().item())
    # with gradient accumulation the Trainer passes the whole accumulated batch size
    assert fn(outputs(LOGITS), LABELS, num_items_in_batch=8).item() == pytest.approx(
        per_item.sum().item() / 8
    )


def test_focal_with_gamma_0_and_no_positive_class_is_ce():
    fn = make_loss("focal", class_weights=None, gamma=0.0, alpha=0.25, positive=None)
    assert fn(outputs(LOGITS), LABELS).item() == pytest.approx(
        F.cross_entropy(LOGITS, LABELS).item()
    )


def test_focal_by_hand():
    fn = make_loss("focal", class_weights=None, gamma=2.0, alpha=0.25, positive=1)
    logits, labels = torch.tensor([[0.0, 1.0], [0.0, 1.0]]), torch.tensor([1, 0])
    p1 = 1 / (1 + math.exp(-1.0))  # probability of class 1
    positive = -0.25 * (1 - p1) ** 2 * math.log(p1)
    negative = -0.75 * p1**2 * math.log(1 - p1)
    assert fn(outputs(logits), labels).item() == pytest.approx((positive + negative) / 2, rel=1e-5)


def test_focal_turns_away_from_easy_examples():
    fn = make_loss("focal", class_weights=None, gamma=2.0, alpha=0.5, positive=None)
    easy = fn(outputs(torch.tensor([[0.0, 5.0]])), torch.tensor([1])).item()
    hard = fn(outputs(torch.tensor([[0.0, -1.0]])), torch.tensor([1])).item()
    ce_easy = F.cross_entropy(torch.tensor([[0.0, 5.0]]), torch.tensor([1])).item()
    assert easy < ce_easy / 100 and hard > easy * 1000


def test_balanced_class_weights():
    assert balanced_class_weights([0, 0, 0, 1], 2) == pytest.approx([4 / 6, 2.0])
    assert balanced_class_weights([0, 0, 2, 2], 3) == pytest.approx([1.0, 1.0, 1.0])
