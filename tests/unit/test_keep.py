"""Which trials keep their weights while a search runs (``hpo_ray.tuning.keep``)."""

from __future__ import annotations

import math

from hpo_ray.train.trial_files import KeptInfo, save_best_weights
from hpo_ray.tuning.keep import drop_weights, trials_to_keep


def test_the_best_and_the_baseline_keep_their_weights():
    scored = [("a", 0.7, True), ("b", 0.8, False), ("c", None, False), ("d", 0.9, False)]
    assert trials_to_keep(scored, "max", 1) == {"a", "d"}
    assert trials_to_keep(scored, "max", 2) == {"a", "b", "d"}
    assert trials_to_keep(scored, "min", 1) == {"a"}


def test_ties_keep_the_earlier_trial_and_nan_never_ranks():
    scored = [("a", math.nan, False), ("b", 0.5, False), ("c", 0.5, False)]
    assert trials_to_keep(scored, "max", 1) == {"b"}
    assert trials_to_keep([("x", None, False)], "max", 1) == set()


def test_kept_weights_are_replaced_whole_and_dropped_whole(tmp_path):
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.full((2,), value))

        def save_pretrained(self, folder: str) -> None:
            import pathlib

            pathlib.Path(folder).mkdir(parents=True)
            torch.save(self.state_dict(), f"{folder}/weights.pt")

    first = save_best_weights(Tiny(1.0), tmp_path, KeptInfo(1.0, 10, "eval_f1", 0.5))
    second = save_best_weights(Tiny(2.0), tmp_path, KeptInfo(2.0, 20, "eval_f1", 0.6))
    assert first == second == tmp_path / "best_model"
    assert torch.load(second / "weights.pt")["w"].tolist() == [2.0, 2.0]
    assert '"epoch": 2.0' in (second / "best_model.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best_model"]
    drop_weights(str(tmp_path))
    assert not list(tmp_path.iterdir())


def test_the_kept_weights_info_reads_back_as_written(tmp_path):
    schedule = [{"epoch": 0, "values": {"learning_rate": 1e-4}}]
    written = KeptInfo(epoch=2.0 + 1e-12, step=40, metric="eval_f1", score=0.81, schedule=schedule)
    written.write(tmp_path)
    assert KeptInfo.read(tmp_path) == written
    assert written.epochs() == 2 and KeptInfo(0.4, 8, "eval_f1", 0.5).epochs() == 1
    assert KeptInfo.read(tmp_path / "none") is None
