"""The searcher, driven by hand the way Tune drives it (no Ray cluster): the baseline comes
first, a trial the scheduler cut reaches Optuna as PRUNED with its per-epoch values, and the
sampler is the one the space and the budget call for."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import optuna
import pytest
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler

from hpo_ray.config.loading import from_dict
from hpo_ray.errors import ConfigError
from hpo_ray.tuning.baseline import (
    baseline_outside,
    baseline_point,
    reference_points,
    trainer_reference,
)
from hpo_ray.tuning.registry import make_scheduler, make_searcher
from hpo_ray.tuning.samplers import (
    LARGE_BUDGET,
    choose_sampler,
    make_sampler,
    startup_trials,
)
from hpo_ray.tuning.schedulers import scheduler_of
from hpo_ray.tuning.searchers import check_search as validate_search

State = optuna.trial.TrialState
LR = {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}


def config(search: dict[str, Any], training: dict[str, Any] | None = None) -> Any:
    base = {"learning_rate": 5e-5, "num_train_epochs": 3}
    return from_dict({"training": {**base, **(training or {})}, "search": search})


def driven(cfg: Any) -> Any:
    searcher, _ = make_searcher(cfg)
    searcher.set_search_properties("objective", "max", {})
    return searcher


def report(searcher: Any, trial_id: str, values: list[float], done: bool) -> None:
    for step, value in enumerate(values, start=1):
        result = {"objective": value, "training_iteration": step, "train_done": False}
        searcher.on_trial_result(trial_id, result)
    final = {"objective": values[-1], "training_iteration": len(values), "train_done": done}
    searcher.on_trial_complete(trial_id, final)


def test_the_baseline_is_the_first_trial_and_a_cut_trial_is_pruned():
    cfg = config({"num_samples": 4, "max_concurrent_trials": 1, "space": {"learning_rate": LR}})
    searcher = driven(cfg)
    first, second = searcher.suggest("cut"), searcher.suggest("full")
    assert first == {"learning_rate": 5e-5}  # the training: value, enqueued
    assert second != first
    report(searcher, "cut", [0.41], done=False)  # ASHA stopped it after one epoch
    report(searcher, "full", [0.52, 0.63, 0.71], done=True)
    trials = {t.number: t for t in searcher.study.trials}
    assert trials[0].state == State.PRUNED
    assert trials[0].intermediate_values == {1: 0.41}
    assert trials[1].state == State.COMPLETE and trials[1].value == 0.71
    assert trials[1].intermediate_values == {1: 0.52, 2: 0.63, 3: 0.71}


def test_a_failed_trial_is_fail_and_a_trial_never_suggested_is_learnt_from_its_result():
    cfg = config({"num_samples": 4, "space": {"learning_rate": LR}})
    searcher = driven(cfg)
    searcher.suggest("a")
    searcher.on_trial_complete("a", None, error=True)
    searcher.on_trial_result("ghost", {"objective": 0.9, "training_iteration": 1})
    searcher.on_trial_complete("ghost", {"objective": 0.9, "train_done": True})  # no config
    done = {"objective": 0.8, "train_done": True, "training_iteration": 3}
    searcher.on_trial_complete("later", {**done, "config": {"learning_rate": 2e-4}})
    cut = {"objective": 0.4, "train_done": False, "training_iteration": 1}
    searcher.on_trial_complete("cut", {**cut, "config": {"learning_rate": 7e-4}})
    searcher.on_trial_complete("later", {**done, "config": {"learning_rate": 2e-4}})  # once
    trials = searcher.study.trials
    assert [t.state for t in trials] == [State.FAIL, State.COMPLETE, State.PRUNED]
    assert trials[1].params == {"learning_rate": 2e-4} and trials[1].value == 0.8
    assert trials[2].value is None and trials[2].intermediate_values == {1: 0.4}


def test_a_resumed_searcher_is_aligned_with_the_restored_trials():
    """Searcher states older and newer than the trials', as a driver killed while Tune
    uploaded its snapshot leaves them; the trials are the truth."""
    from ray.tune.experiment import Trial
    from ray.tune.search import ConcurrencyLimiter, SearchGenerator

    from hpo_ray.tuning.realign import align

    def trial(trial_id, n, status, config, value=None):
        result = {"objective": value, "train_done": True, "config": config} if value else {}
        return SimpleNamespace(
            trial_id=trial_id,
            experiment_tag=f"{n}_lr",
            status=status,
            config=config,
            last_result=result,
        )

    cfg = config({"num_samples": 6, "space": {"learning_rate": LR}})
    ran = driven(cfg)  # the search as it ran: 4 trials made
    a, b, c, d = (ran.suggest(t) for t in "abcd")
    searcher = driven(cfg)  # its state as saved, when a and b were running (same seed)
    limiter = ConcurrencyLimiter(searcher, max_concurrent=2)
    generator = SearchGenerator(limiter)
    assert (limiter.suggest("a"), limiter.suggest("b")) == (a, b)
    generator._counter = 2  # noqa: SLF001 - Tune's count, as restored
    trials = [
        trial("a", 1, Trial.TERMINATED, a, 0.7),
        trial("b", 2, Trial.TERMINATED, b, 0.6),
        trial("c", 3, Trial.TERMINATED, c, 0.5),
        trial("d", 4, Trial.PENDING, d),
    ]
    align(generator, trials)
    assert limiter.live_trials == {"d"} and limiter.num_unfinished_live_trials == 1
    assert generator._counter == 4  # noqa: SLF001 - 2 more to make, not 4
    study = searcher.study
    # c and d replayed (the seeded sampler draws them again), so a new suggestion is new
    assert [t.params for t in study.trials] == [a, b, c, d]
    assert [t.state for t in study.trials][:3] == [State.COMPLETE] * 3
    assert limiter.suggest("e") not in (a, b, c, d)

    # Newer than the trials: it suggested one that never became a trial.
    cfg = config({"num_samples": 6, "space": {"learning_rate": LR}})
    searcher = driven(cfg)
    limiter = ConcurrencyLimiter(searcher, max_concurrent=2)
    generator = SearchGenerator(limiter)
    a, _ = limiter.suggest("a"), limiter.suggest("ghost")
    generator._counter = 2  # noqa: SLF001
    align(generator, [trial("a", 1, Trial.RUNNING, a)])
    assert limiter.live_trials == {"a"} and generator._counter == 1  # noqa: SLF001
    assert [t.state for t in searcher.study.trials] == [State.RUNNING, State.FAIL]


def test_no_baseline_when_turned_off_or_outside_the_space():
    space = {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-3, "log": True}}
    outside = config({"space": space})
    assert baseline_point(outside) is None
    assert baseline_outside(outside) == (
        "training.learning_rate=5e-05 lies outside search.space.learning_rate"
    )
    off = config({"baseline": False, "space": {"learning_rate": LR}})
    assert baseline_point(off) is None
    first = driven(config({"baseline": False, "seed": 3, "space": {"learning_rate": LR}}))
    assert first.suggest("a") != {"learning_rate": 5e-5}


WD = {"type": "float", "low": 0.0, "high": 0.2}


def trainers(name: str) -> Any:
    """The installed transformers' default of a ``TrainingArguments`` field."""
    from transformers import TrainingArguments

    return TrainingArguments.__dataclass_fields__[name].default


@pytest.mark.parametrize(
    ("baseline", "names"),
    [(True, ["training", "trainer"]), ("trainer", ["trainer"]), ("training", ["training"])],
)
def test_the_references_run_first_the_trainers_read_from_transformers(baseline, names):
    training = {"learning_rate": 2e-5, "weight_decay": 0.01}
    trainer = {"learning_rate": trainers("learning_rate"), "weight_decay": trainers("weight_decay")}
    assert trainer != training  # the two references differ: both run
    cfg = config(
        {
            "baseline": baseline,
            "num_samples": 6,
            "max_concurrent_trials": 1,
            "space": {"learning_rate": LR, "weight_decay": WD},
        },
        training,
    )
    assert list(reference_points(cfg)) == names
    searcher = driven(cfg)
    first = [searcher.suggest(f"t{i}") for i in range(len(names) + 1)]
    wanted = {"training": training, "trainer": trainer}
    assert first[: len(names)] == [wanted[n] for n in names]
    assert first[-1] not in first[:-1]  # then the sampler proposes


def test_no_trainer_reference_where_it_equals_the_base_or_leaves_the_space():
    same = config({"space": {"learning_rate": LR}}, {"learning_rate": trainers("learning_rate")})
    assert list(reference_points(same)) == ["training"]
    assert trainer_reference(same)[1] == (
        "the base values equal the Trainer's defaults for every searched key"
    )
    narrow = {"type": "float", "low": 0.05, "high": 0.2}  # the Trainer's 0.0 lies outside
    outside = config({"space": {"weight_decay": narrow}}, {"weight_decay": 0.1})
    assert list(reference_points(outside)) == ["training"]
    assert "lies outside search.space.weight_decay" in trainer_reference(outside)[1]
    with pytest.raises(ConfigError, match="search.baseline='defaults' is not known"):
        config({"baseline": "defaults", "space": {"learning_rate": LR}})


def test_the_baseline_leaves_out_a_conditional_value_that_has_no_effect():
    cfg = config(
        {
            "space": {
                "loss": {"type": "categorical", "values": ["ce", "focal"]},
                "focal_gamma": {"type": "float", "low": 1.0, "high": 3.0},
                "learning_rate": LR,
            }
        }
    )
    assert baseline_point(cfg) == {"loss": "ce", "learning_rate": 5e-5}


@pytest.mark.parametrize(
    ("search", "name", "why"),
    [
        ({"sampler": "cmaes"}, "cmaes", "set by search.sampler"),
        (
            {
                "space": {
                    "loss": {"type": "categorical", "values": ["ce", "focal"]},
                    "focal_gamma": {"type": "float", "low": 1.0, "high": 3.0},
                }
            },
            "tpe",
            "conditional space",
        ),
        (
            {"space": {"loss": {"type": "categorical", "values": ["ce", "focal"]}}},
            "tpe",
            "only categorical",
        ),
        ({"num_samples": LARGE_BUDGET + 1, "max_concurrent_trials": 1}, "tpe", "scales"),
        ({"num_samples": 12}, "tpe", "side by side"),
        ({"num_samples": 12, "max_concurrent_trials": 1}, "gp", "Gaussian process"),
        ({"num_samples": 6}, "qmc", "at most 6 trials, fewer than a model needs"),
        (
            {"num_samples": 30, "epoch_budget": 8, "scheduler": "none"},
            "qmc",
            "at most 3 trials (within search.epoch_budget)",  # 3 epochs a trial
        ),
        ({"num_samples": 30, "epoch_budget": 12, "scheduler": "asha"}, "tpe", "side by side"),
    ],
)
def test_auto_picks_the_sampler_by_space_and_budget(search, name, why):
    search = {"space": {"learning_rate": LR}, **search}
    choice = choose_sampler(config(search))
    assert choice.name == name and why in choice.reason


@pytest.mark.parametrize(
    ("search", "training", "name", "why"),
    [
        ({}, {"num_train_epochs": 2}, "none", "trials of 2 epochs (ASHA from 4)"),
        ({}, {"num_train_epochs": 3}, "none", "middle of its learning-rate schedule"),
        ({}, {"num_train_epochs": 4}, "asha", "trials of 4 epochs: ASHA stops"),
        ({"grace_period": 4}, {"num_train_epochs": 4}, "none", "trials of 4 epochs (ASHA from 4)"),
        ({}, {"num_train_epochs": 1, "eval_steps": 10}, "asha", "eval_steps"),
        (
            {"space": {"num_train_epochs": {"type": "int", "low": 2, "high": 6}}},
            {"num_train_epochs": 6},
            "none",
            "searches num_train_epochs",
        ),
        ({"scheduler": "median"}, {"num_train_epochs": 2}, "median", "set by"),
    ],
)
def test_auto_picks_the_scheduler_by_the_trials_length(search, training, name, why):
    cfg = config({"space": {"learning_rate": LR}, **search}, training)
    assert cfg.search.scheduler == search.get("scheduler", "auto")
    choice = scheduler_of(cfg)
    assert choice.name == name and why in choice.reason
    scheduler = make_scheduler(cfg)
    if name == "none":
        assert type(scheduler) is FIFOScheduler  # ASHA is a FIFOScheduler too
    elif name == "asha":
        assert isinstance(scheduler, AsyncHyperBandScheduler)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("tpe", optuna.samplers.TPESampler),
        ("gp", optuna.samplers.GPSampler),
        ("cmaes", optuna.samplers.CmaEsSampler),
        ("qmc", optuna.samplers.QMCSampler),
        ("random", optuna.samplers.RandomSampler),
    ],
)
def test_every_sampler_builds_and_proposes(name, cls):
    search = {
        "sampler": name,
        "num_samples": 4,
        "n_startup_trials": 2,
        "space": {"learning_rate": LR},
    }
    cfg = config(search)
    assert isinstance(make_sampler(cfg, name), cls)
    searcher = driven(cfg)
    assert isinstance(searcher.study.sampler, cls)
    for i in range(4):  # the baseline, one random start-up trial, then the sampler's own
        proposal = searcher.suggest(str(i))
        assert 1e-5 <= proposal["learning_rate"] <= 1e-3
        searcher.on_trial_complete(str(i), {"objective": 0.5 + i / 10, "train_done": True})


def test_tpe_uses_the_constant_liar_only_when_trials_run_side_by_side():
    parallel = config({"sampler": "tpe", "space": {"learning_rate": LR}})
    sequential = config(
        {"sampler": "tpe", "max_concurrent_trials": 1, "space": {"learning_rate": LR}}
    )
    assert make_sampler(parallel, "tpe")._constant_liar is True  # noqa: SLF001
    assert make_sampler(sequential, "tpe")._constant_liar is False  # noqa: SLF001


def test_a_sampler_name_is_checked():
    with pytest.raises(ConfigError, match=r"search.sampler='bayes'.*auto, tpe, gp, cmaes"):
        validate_search(config({"sampler": "bayes"}))


@pytest.mark.parametrize(
    ("search", "training", "message"),
    [
        (
            {
                "scheduler": "asha",
                "space": {"num_train_epochs": {"type": "int", "low": 1, "high": 4}},
            },
            {},
            r"search.space.num_train_epochs cannot be searched with search.scheduler=asha",
        ),
        (
            {"scheduler": "median", "grace_period": 3},
            {"num_train_epochs": 3},
            r"search.grace_period=3 must be below training.num_train_epochs=3",
        ),
    ],
)
def test_epochs_are_the_schedulers_to_decide(search, training, message):
    cfg = config({"space": {"learning_rate": LR}, **search}, training)
    with pytest.raises(ConfigError, match=message):
        validate_search(cfg)


@pytest.mark.parametrize("scheduler", ["none", "auto"])
def test_epochs_may_be_searched_without_a_scheduler(scheduler):
    space = {"num_train_epochs": {"type": "int", "low": 1, "high": 4}}
    cfg = config({"scheduler": scheduler, "space": space}, {"num_train_epochs": 4})
    validate_search(cfg)
    assert scheduler_of(cfg).name == "none"


@pytest.mark.parametrize(
    ("search", "startup"),
    [
        ({"num_samples": 6}, 2),
        ({"num_samples": 20}, 5),
        ({"num_samples": 100}, 10),
        ({"num_samples": 6, "n_startup_trials": 3}, 3),
        # 2-epoch trials, no scheduler: a 24-epoch budget runs 12 of the 32 (3 start-up, not 8)
        ({"num_samples": 32, "epoch_budget": 24, "scheduler": "none"}, 3),
        ({"num_samples": 32, "epoch_budget": 24, "scheduler": "none", "n_startup_trials": 8}, 8),
    ],
)
def test_start_up_trials_follow_the_budget_unless_set(search, startup):
    training = {"num_train_epochs": 2} if "epoch_budget" in search else None
    cfg = config({"sampler": "tpe", "space": {"learning_rate": LR}, **search}, training)
    assert startup_trials(cfg) == startup
    assert make_sampler(cfg, "tpe")._n_startup_trials == startup  # noqa: SLF001


class Trial:
    """What a scheduler reads of a Tune trial: its id and its config."""

    def __init__(self, trial_id: str, config: dict[str, Any]) -> None:
        self.trial_id, self.config = trial_id, config


class Controller:
    """What median stopping asks of Tune's controller: the trials waiting (none)."""

    def get_live_trials(self) -> list[Any]:
        return []


@pytest.mark.parametrize("scheduler", ["asha", "median"])
def test_the_scheduler_never_cuts_the_baseline(scheduler):
    """Found in the benchmark: ASHA cut the baseline after its first epoch, so the search's
    best could be worse than the defaults trained their whole course."""
    from hpo_ray.tuning.registry import make_scheduler

    cfg = config({"scheduler": scheduler, "grace_period": 1, "space": {"learning_rate": LR}})
    sched = make_scheduler(cfg)
    sched.set_search_properties("objective", "max")
    good = [Trial(f"g{i}", {"learning_rate": 1e-4 * (i + 1)}) for i in range(3)]
    base = Trial("base", {"learning_rate": 5e-5})
    weak = Trial("weak", {"learning_rate": 1.1e-5})
    decisions = {}
    controller = Controller()
    for trial in [*good, base, weak]:
        sched.on_trial_add(controller, trial)
    for step in (1, 2, 3):
        for trial, value in [*((g, 0.9) for g in good), (base, 0.1), (weak, 0.1)]:
            if "STOP" in decisions.get(trial.trial_id, []):
                continue  # Tune sends a stopped trial no more results
            result = {"objective": value, "training_iteration": step, "time_total_s": float(step)}
            decisions.setdefault(trial.trial_id, []).append(
                sched.on_trial_result(controller, trial, result)
            )
    assert "STOP" in decisions["weak"]  # the rule works on an ordinary weak trial
    assert decisions["base"] == ["CONTINUE"] * 3  # but spares the defaults, epoch after epoch


@pytest.mark.parametrize("scheduler", ["asha", "median"])
def test_the_scheduler_never_cuts_the_trainers_defaults(scheduler):
    from hpo_ray.tuning.registry import make_scheduler

    space = {"learning_rate": LR, "weight_decay": WD}
    cfg = config(
        {"scheduler": scheduler, "grace_period": 1, "space": space},
        {"learning_rate": 2e-5, "weight_decay": 0.01},
    )
    sched = make_scheduler(cfg)
    sched.set_search_properties("objective", "max")
    point = reference_points(cfg)["trainer"]
    good = [
        Trial(f"g{i}", {"learning_rate": 1e-4 * (i + 1), "weight_decay": 0.1}) for i in range(3)
    ]
    ref = Trial("trainer", dict(point))
    weak = Trial("weak", {"learning_rate": 1.1e-5, "weight_decay": 0.1})
    decisions: dict[str, list[str]] = {}
    controller = Controller()
    for trial in [*good, ref, weak]:
        sched.on_trial_add(controller, trial)
    for step in (1, 2, 3):
        for trial, value in [*((g, 0.9) for g in good), (ref, 0.1), (weak, 0.1)]:
            if "STOP" in decisions.get(trial.trial_id, []):
                continue
            result = {"objective": value, "training_iteration": step, "time_total_s": float(step)}
            decisions.setdefault(trial.trial_id, []).append(
                sched.on_trial_result(controller, trial, result)
            )
    assert "STOP" in decisions["weak"]
    assert decisions["trainer"] == ["CONTINUE"] * 3
