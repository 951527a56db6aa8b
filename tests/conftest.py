"""Shared fixtures: a small labelled CSV, a tiny random-init BERT with a WordPiece vocabulary
trained on that text, and one local Ray session for every end-to-end test."""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
# hpo_ray's user id (the marker of the folders a run makes) kept out of the real home; the
# tests' subprocesses inherit it.
os.environ["XDG_CONFIG_HOME"] = str(Path(tempfile.gettempdir()) / f"hpo_ray-tests-{os.getuid()}")
from tiny_models import save_tiny_model  # noqa: E402 - shared with the benchmark scripts

POS = ["great", "wonderful", "moving", "brilliant", "funny", "sharp", "lovely", "superb"]
NEG = ["dull", "boring", "awful", "clumsy", "tedious", "flat", "weak", "messy"]
FILL = ["the", "film", "story", "cast", "plot", "was", "is", "a", "very", "and", "movie", "quite"]


def make_rows(n: int, seed: int = 0) -> list[tuple[str, float]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        words = rng.sample(FILL, 5) + rng.sample(POS if positive else NEG, 2)
        rng.shuffle(words)
        score = rng.uniform(0.5, 3.0) if positive else -rng.uniform(0.5, 3.0)
        rows.append((" ".join(words), round(score, 3)))
    return rows


def write_csv(path: Path, rows: list[tuple[str, float]]) -> Path:
    import pandas as pd

    pd.DataFrame(rows, columns=["text", "sent"]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def corpus_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "dataset.csv", make_rows(400))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, corpus_csv: Path) -> Path:
    """A 2-layer random-init BERT saved like any pretrained folder, plus its tokenizer."""
    import pandas as pd

    texts = pd.read_csv(corpus_csv)["text"].tolist()
    return save_tiny_model(tmp_path_factory.mktemp("tiny-bert"), texts, 200)


@pytest.fixture(scope="session")
def tiny_distil(tmp_path_factory: pytest.TempPathFactory, corpus_csv: Path) -> Path:
    """A second encoder: a random-init DistilBERT with another, smaller vocabulary."""
    import pandas as pd

    texts = pd.read_csv(corpus_csv)["text"].tolist()
    return save_tiny_model(tmp_path_factory.mktemp("tiny-distil"), texts, 90, kind="distilbert")


@pytest.fixture(scope="session")
def ray_local(tmp_path_factory: pytest.TempPathFactory):
    """One real local Ray for all end-to-end tests, in its own temp folder."""
    import ray

    temp = Path("/tmp") / f"hpo-ray-test-{os.getpid()}"
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=str(temp),
        log_to_driver=False,
    )
    yield
    ray.shutdown()
