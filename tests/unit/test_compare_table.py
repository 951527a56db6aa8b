"""The comparison table on a hand-made trial table: with another searched parameter, each
(mode, training share) point shows its best trial."""

from __future__ import annotations

import pandas as pd

from hpo_ray.config.loading import from_dict
from hpo_ray.results.compare import comparison_table
from hpo_ray.results.trials import SearchResults


def test_each_point_shows_the_best_over_the_other_searched_values():
    space = {
        "finetune": {"type": "categorical", "values": ["full", "lora"]},
        "train_fraction": {"type": "categorical", "values": [0.5, 1.0]},
        "learning_rate": {"type": "categorical", "values": [3e-4, 3e-3]},
    }
    cfg = from_dict({"search": {"searcher": "grid", "space": space}})
    rows = []
    for i, (mode, share, lr, f1) in enumerate(
        [
            ("full", 0.5, 3e-4, 0.70),
            ("full", 0.5, 3e-3, 0.40),
            ("full", 1.0, 3e-4, 0.80),
            ("full", 1.0, 3e-3, 0.50),
            ("lora", 0.5, 3e-4, 0.45),
            ("lora", 0.5, 3e-3, 0.65),
            ("lora", 1.0, 3e-4, 0.46),
            ("lora", 1.0, 3e-3, 0.75),
        ]
    ):
        rows.append(
            {
                "trial": i,
                "trial_id": f"t{i}",
                "finetune": mode,
                "train_fraction": share,
                "learning_rate": lr,
                "objective": f1,
                "eval_f1": f1,
                "eval_accuracy": f1,
                "train_examples": 200 * share,
                "trainable_params": 2e7 if mode == "full" else 1e5,
                "train_seconds": 10.0,
                "time_s": 12.0,
                "epochs_run": 2.0,
            }
        )
    results = SearchResults(cfg, pd.DataFrame(rows), history={}, overrides={})
    table = comparison_table(results)
    assert table is not None and len(table) == 8
    shown = table[table["best_at_point"]].set_index(["group", "train_fraction"])
    assert len(shown) == 4
    assert shown.loc[("full", 1.0), "learning_rate"] == 3e-4
    assert shown.loc[("lora", 1.0), "learning_rate"] == 3e-3
    assert shown.loc[("lora", 0.5), "eval_f1"] == 0.65
    assert shown.loc[("full", 0.5), "f1_per_million_params"] == 0.70 / 20
