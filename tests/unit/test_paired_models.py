"""The paired verdict on real models (tiny random-init BERT, the real Trainer, no Ray): a
trained model is told apart from its untrained initialisation.

Two seeds of one configuration are not tested here: on this corpus the tiny model's pair of
seeds disagreed on 2% to 30% of the test rows from one run to the next, and one pair was told
apart ("worse") because one seed learned less; the row bootstrap measures the noise of the
rows, not of the seed, which is why reseeding's seed variance is added where it is measured."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import FILL, NEG, POS, write_csv
from helpers import tiny_config

from hpo_ray.results.paired import compare
from hpo_ray.workflows.refit import Encoders, ModelPlan, fit_and_score


def ambiguous_rows(n: int, seed: int = 0) -> list[tuple[str, float]]:
    """Reviews whose label the words decide for 60% of rows; the other 40% hold one word of
    each kind and a label drawn at random, which a model can only guess, differently per seed."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        if i % 5 < 3:
            words = rng.sample(FILL, 5) + rng.sample(POS if positive else NEG, 2)
        else:
            words = rng.sample(FILL, 5) + [rng.choice(POS), rng.choice(NEG)]
            positive = rng.random() < 0.5
        rng.shuffle(words)
        rows.append((" ".join(words), 1.0 if positive else -1.0))
    return rows


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model):
    tmp = tmp_path_factory.mktemp("paired")
    csv = write_csv(tmp / "ambiguous.csv", ambiguous_rows(500))
    cfg = tiny_config(
        tmp,
        csv,
        tiny_model,
        data={"test_size": 0.4, "validation_size": 0.2},
        training={"num_train_epochs": 5, "learning_rate": 3e-3, "early_stopping_patience": 0},
    )
    return cfg, Encoders(cfg)


def test_a_trained_model_is_better_than_its_untrained_initialisation(setup):
    cfg, encoders = setup
    base = cfg.base_params()
    trained = fit_and_score(cfg, base, save_to=None, encoders=encoders)
    untrained = fit_and_score(
        cfg,
        base,
        ModelPlan(kept=Path(cfg.model.name), made_by="untrained"),
        save_to=None,
        encoders=encoders,
    )
    labels, probs = trained.predictions["test"]
    d = compare(labels, probs, untrained.predictions["test"][1], "f1", positive=1)
    assert d.verdict == "better", d
    assert trained.scores.score("test", "f1") == pytest.approx(
        float(d.value) + untrained.scores.score("test", "f1"), abs=1e-6
    )
