"""The OFAT sensitivity ranking on a fixed table: spread per parameter, largest first."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hpo_ray.config.loading import from_dict
from hpo_ray.results.ofat import COLUMNS, OfatResults

CFG = from_dict(
    {
        "training": {"learning_rate": 2e-5, "warmup_ratio": 0.1, "loss": "ce"},
        "ofat": {
            "grid": {
                "learning_rate": [1e-5, 2e-5, 1e-4],
                "warmup_ratio": [0.0, 0.1],
                "loss": ["ce", "focal"],
            }
        },
        "run": {"name": "o"},
    }
)


def table(rows: list[tuple[str, object, float]]) -> pd.DataFrame:
    """An OFAT table from (param, value, f1) rows; the other columns are filler."""
    records = []
    for i, (param, value, f1) in enumerate(rows):
        record = dict.fromkeys(COLUMNS, math.nan)
        record.update(
            param=param,
            value=value,
            f1=f1,
            accuracy=f1,
            status="completed" if not math.isnan(f1) else "not_run",
            variant=f"{param}={value}",
            shared_base=False,
            trial=i,
            trial_id=f"t{i}",
            error="",
        )
        records.append(record)
    return pd.DataFrame(records, columns=list(COLUMNS))


def test_sensitivity_ranks_parameters_by_spread():
    frame = table(
        [
            ("learning_rate", 1e-5, 0.60),
            ("learning_rate", 2e-5, 0.70),
            ("learning_rate", 1e-4, 0.50),  # spread 0.20, best at 2e-5
            ("warmup_ratio", 0.0, 0.68),
            ("warmup_ratio", 0.1, 0.70),  # spread 0.02, best at 0.1
            ("loss", "ce", 0.70),
            ("loss", "focal", 0.75),  # spread 0.05, best at focal
        ]
    )
    sens = OfatResults(CFG, frame, trials=None).sensitivity()
    assert list(sens.columns) == ["param", "min", "max", "spread", "best_value"]
    assert list(sens["param"]) == ["learning_rate", "loss", "warmup_ratio"]
    by_param = sens.set_index("param")
    assert by_param.loc["learning_rate", "spread"] == pytest.approx(0.20)
    assert by_param.loc["learning_rate", "min"] == 0.50
    assert by_param.loc["learning_rate", "max"] == 0.70
    assert by_param.loc["learning_rate", "best_value"] == 2e-5
    assert by_param.loc["loss", "spread"] == pytest.approx(0.05)
    assert by_param.loc["loss", "best_value"] == "focal"
    assert by_param.loc["warmup_ratio", "spread"] == pytest.approx(0.02)
    assert by_param.loc["warmup_ratio", "best_value"] == 0.1


def test_sensitivity_skips_values_that_did_not_run():
    frame = table(
        [
            ("learning_rate", 1e-5, 0.60),
            ("learning_rate", 2e-5, math.nan),  # not run: neither min nor max
            ("learning_rate", 1e-4, 0.65),
            ("loss", "ce", math.nan),
            ("loss", "focal", math.nan),  # no value ran: no row at all
        ]
    )
    sens = OfatResults(CFG, frame, trials=None).sensitivity()
    assert list(sens["param"]) == ["learning_rate"]
    row = sens.iloc[0]
    assert row["spread"] == pytest.approx(0.05)
    assert row["best_value"] == 1e-4


def test_sensitivity_keeps_grid_order_for_equal_spreads():
    frame = table(
        [
            ("warmup_ratio", 0.0, 0.6),
            ("warmup_ratio", 0.1, 0.7),
            ("learning_rate", 1e-5, 0.6),
            ("learning_rate", 1e-4, 0.7),
        ]
    )
    sens = OfatResults(CFG, frame, trials=None).sensitivity()
    assert list(sens["param"]) == ["warmup_ratio", "learning_rate"]


def test_sensitivity_on_another_metric():
    frame = table([("loss", "ce", 0.7), ("loss", "focal", 0.6)])
    frame["accuracy"] = [0.80, 0.90]
    sens = OfatResults(CFG, frame, trials=None).sensitivity("accuracy")
    assert sens.iloc[0]["best_value"] == "focal"
    assert sens.iloc[0]["spread"] == pytest.approx(0.10)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(columns=list(COLUMNS)),
        table([("learning_rate", 1e-5, math.nan), ("loss", "ce", math.nan)]),
    ],
    ids=["no rows", "nothing ran"],
)
def test_sensitivity_of_an_empty_table(frame):
    sens = OfatResults(CFG, frame, trials=None).sensitivity()
    assert sens.empty
    assert list(sens.columns) == ["param", "min", "max", "spread", "best_value"]


def test_the_best_value_of_the_loss_is_the_lowest():
    """Bug found in review: the best value was the highest for every metric, the loss too."""
    frame = table([("learning_rate", 1e-5, 0.7), ("learning_rate", 1e-4, 0.6)])
    frame["loss"] = [0.40, 0.55]
    sens = OfatResults(CFG, frame, trials=None).sensitivity("loss")
    assert sens.iloc[0]["best_value"] == 1e-5
    assert sens.iloc[0]["spread"] == pytest.approx(0.15)
