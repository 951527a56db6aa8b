"""Schedules of a population search (``hpo_ray.train.schedule``) and the PBT rules
(``hpo_ray.tuning.population``, ``hpo_ray.config.validation``)."""

from __future__ import annotations

import pytest
from helpers import tiny_config

from hpo_ray.config.schema import ParamSpec
from hpo_ray.errors import ConfigError
from hpo_ray.train.schedule import (
    apply_values,
    compact,
    continue_schedule,
    describe,
    read_schedule,
    values_at,
    write_schedule,
)
from hpo_ray.tuning.population import KeepInRange
from hpo_ray.tuning.searchers import check_search as validate_search


def test_a_copy_continues_the_copied_schedule_and_names_whose_weights_came():
    own, copied = continue_schedule([], "a", 0.0, {"learning_rate": 1e-3})
    assert copied is None and own == [
        {"trial_id": "a", "from_epoch": 0.0, "values": {"learning_rate": 1e-3}}
    ]
    # b takes a's checkpoint at epoch 2 and trains on with another learning rate
    taken, copied = continue_schedule(own, "b", 2.0, {"learning_rate": 5e-4})
    assert copied == "a"
    assert [s["trial_id"] for s in taken] == ["a", "b"]
    assert values_at(taken, 0) == values_at(taken, 1) == {"learning_rate": 1e-3}
    assert values_at(taken, 2) == values_at(taken, 5) == {"learning_rate": 5e-4}
    # b paused and resumed from its own checkpoint with the same values: nothing new
    again, copied = continue_schedule(taken, "b", 3.0, {"learning_rate": 5e-4})
    assert again == taken and copied is None
    # a schedule never claims epochs past where its weights were taken
    rewound, _ = continue_schedule(taken, "c", 1.0, {"learning_rate": 2e-3})
    assert [s["trial_id"] for s in rewound] == ["a", "c"]
    assert "a from epoch 0 (learning_rate 0.001); b from epoch 2" in describe(taken)
    assert compact(taken) == "@0 learning_rate=0.001 | @2 learning_rate=0.0005"


def test_schedules_round_trip_through_a_checkpoint_folder(tmp_path):
    segments, _ = continue_schedule([], "a", 0.0, {"weight_decay": 0.01})
    assert read_schedule(tmp_path) == [] and read_schedule(None) == []
    write_schedule(tmp_path, segments, 1.0)
    assert read_schedule(tmp_path) == segments


def test_new_values_take_over_a_resumed_optimizer_and_its_schedule():
    import torch
    from transformers import TrainingArguments, get_linear_schedule_with_warmup

    model = torch.nn.Linear(4, 2)
    groups = [
        {"params": [model.weight], "weight_decay": 0.01},
        {"params": [model.bias], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    schedule = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=2, num_training_steps=10)
    for _ in range(4):
        optimizer.step()
        schedule.step()
    factor = optimizer.param_groups[0]["lr"] / 1e-3  # where the schedule is now
    args = TrainingArguments(output_dir="/tmp/unused", report_to="none", use_cpu=True)
    apply_values(
        args,
        optimizer,
        schedule,
        {"learning_rate": 4e-3, "weight_decay": 0.05, "max_grad_norm": 0.5},
    )
    assert optimizer.param_groups[0]["lr"] == pytest.approx(4e-3 * factor)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.05, 0.0]
    assert args.max_grad_norm == 0.5
    optimizer.step()
    schedule.step()  # the decay goes on from the new base
    assert optimizer.param_groups[1]["lr"] == pytest.approx(4e-3 * (10 - 5) / (10 - 2))


def test_scaled_values_stay_in_their_range():
    keep = KeepInRange(
        {
            "learning_rate": ParamSpec(type="float", low=1e-5, high=1e-3, log=True),
            "max_grad_norm": ParamSpec(type="float", low=0.5, high=2.0),
        }
    )
    assert keep({"learning_rate": 1.2e-3, "max_grad_norm": 0.4, "seed": 1}) == {
        "learning_rate": 1e-3,
        "max_grad_norm": 0.5,
        "seed": 1,
    }


PBT = {
    "scheduler": "pbt",
    "num_samples": 4,
    "space": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}},
}


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (
            {
                "search": {
                    **PBT,
                    "space": {"warmup_ratio": {"type": "float", "low": 0.0, "high": 0.2}},
                }
            },
            r"search.space.warmup_ratio: search.scheduler=pbt changes values while trials train",
        ),
        (
            {
                "search": {
                    **PBT,
                    "scheduler": "pb2",
                    "space": {"learning_rate": {"type": "categorical", "values": [1e-3, 2e-3]}},
                }
            },
            r"pb2 models numeric ranges only",
        ),
        ({"search": {**PBT, "num_samples": 1}}, r"needs a population of at least 2"),
        (
            {"search": {**PBT, "pbt": {"interval": 2}}},
            r"search.pbt.interval=2 must be at least 1 and below",
        ),
        (
            {"search": PBT, "training": {"eval_steps": 5}},
            r"training.eval_steps: .* perturbs at epoch ends",
        ),
        ({"search": PBT, "data": {"folds": 3}}, r"data.folds=3: .* trains one model per trial"),
        (
            {"search": {**PBT, "reseed": {"top_k": 2}}},
            r"search.reseed.top_k=2: .* winner is a schedule",
        ),
        (
            {"search": {**PBT, "pbt": {"quantile_fraction": 0.7}}},
            r"quantile_fraction=0.7 must be in",
        ),
        (  # Ray makes a trial only when one of the first ends: no population, a resume stalls
            {"search": {**PBT, "max_concurrent_trials": 2}},
            r"search.max_concurrent_trials=2: .* all 4 trials of the population",
        ),
    ],
)
def test_population_searches_refuse_what_they_cannot_do(tmp_path, sections, message):
    cfg = tiny_config(tmp_path, tmp_path / "d.csv", tmp_path / "m", **sections)
    with pytest.raises(ConfigError, match=message):
        validate_search(cfg)


def test_a_population_is_drawn_at_random_and_evolved_by_ray_pbt(tmp_path):
    from ray.tune.schedulers import PopulationBasedTraining
    from ray.tune.search import BasicVariantGenerator

    from hpo_ray.tuning.plan import search_plan

    plan = search_plan(tiny_config(tmp_path, tmp_path / "d.csv", tmp_path / "m", search=PBT))
    assert isinstance(
        plan.searcher, BasicVariantGenerator
    )  # Ray's PBT takes no model-based searcher
    assert isinstance(plan.scheduler, PopulationBasedTraining)
    assert plan.scheduler._perturbation_interval == 1 and plan.scheduler._time_attr == "epoch"
    assert plan.scheduler.judge == "eval_f1"


class FakeTrial:
    def __init__(self, trial_id: str, config: dict) -> None:
        self.trial_id, self.config, self.experiment_tag = trial_id, config, trial_id
        self.status = "PAUSED"

    def is_finished(self) -> bool:
        return False


def test_the_baseline_keeps_its_course_and_the_worst_other_copies_in_its_place():
    from ray.tune.schedulers.pbt import _PBTTrialState

    from hpo_ray.tuning.population import baseline_pbt_class

    scheduler = baseline_pbt_class()(
        judge="eval_f1",
        baseline={"learning_rate": 2e-5},
        time_attr="epoch",
        metric="objective",
        mode="max",
        hyperparam_mutations={"learning_rate": [2e-5, 1e-4]},
        quantile_fraction=0.25,
    )
    scores = {"base": 0.1, "a": 0.5, "b": 0.7, "c": 0.9}
    trials = {}
    for name, score in scores.items():
        trial = FakeTrial(name, {"learning_rate": 2e-5 if name == "base" else 1e-4})
        if name == "base":
            scheduler.baseline_trial = name
        state = _PBTTrialState(trial)
        state.last_score = score
        scheduler._trial_state[trial] = state
        trials[name] = trial
    lower, upper = scheduler._quantiles()
    assert [t.trial_id for t in lower] == ["a"] and [t.trial_id for t in upper] == ["c"]
    # judged on the latest evaluation, not the running best the Tuner ranks by
    state = _PBTTrialState(trials["a"])
    scheduler._save_trial_state(
        state, 1.0, {"objective": 0.9, "eval_f1": 0.4, "epoch": 1.0}, trials["a"]
    )
    assert state.last_score == 0.4


def population_trial(name: str, epoch: float = 0.0, f1: float = 0.5, status: str = "PENDING"):
    """A real Tune trial (not started) with results up to ``epoch``."""
    from ray.tune.experiment import Trial

    trial = Trial("train_trial", config={"learning_rate": 1e-4}, trial_id=name, stub=True)
    if epoch:
        trial.update_last_result({"epoch": epoch, "objective": f1, "eval_f1": f1})
    trial.set_status(status)
    return trial


class Controller:
    """What Ray's PBT asks of the Tune controller when no checkpoint is handed over."""

    search_alg = None

    def __init__(self, trials):
        self.trials = trials

    def get_trials(self):
        return self.trials

    def get_live_trials(self):
        return [t for t in self.trials if not t.is_finished()]


def synch_population():
    from hpo_ray.tuning.population import baseline_pbt_class

    return baseline_pbt_class()(
        judge="eval_f1",
        time_attr="epoch",
        metric="objective",
        mode="max",
        hyperparam_mutations={"learning_rate": [1e-4, 2e-4]},
        synch=True,
        perturbation_interval=1,
        quantile_fraction=0.5,
    )


def test_a_resumed_population_goes_on_from_the_epochs_its_trials_reached():
    scheduler = synch_population()
    trials = [population_trial("ahead", 3.0, f1=0.8), population_trial("behind", 2.0)]
    controller = Controller(trials)
    for trial in trials:
        scheduler.on_trial_add(controller, trial)
    # The next generation boundary is the one the trial behind has to reach (Ray's fresh state
    # would wait for epoch 1, passed long ago, and run no trial again).
    assert scheduler._next_perturbation_sync == 3.0
    # Paused, not pending: Tune starts every pending trial it has room for, and the trial ahead
    # would train on before the one behind has caught up (and copied from it).
    assert [t.status for t in trials] == ["PAUSED", "PAUSED"]
    assert scheduler.choose_trial_to_run(controller).trial_id == "behind"
    assert scheduler._trial_state[trials[0]].last_score == 0.8  # it can be copied from


def test_a_trial_that_fails_is_not_waited_for():
    scheduler = synch_population()
    trials = [population_trial(name) for name in ("a", "b", "c")]
    controller = Controller(trials)
    for trial in trials:
        scheduler.on_trial_add(controller, trial)
    for trial, f1 in zip(trials, (0.4, 0.6, 0.5), strict=True):  # the first generation
        trial.set_status("RUNNING")
        scheduler.on_trial_result(controller, trial, {"epoch": 1.0, "objective": f1, "eval_f1": f1})
        trial.update_last_result({"epoch": 1.0, "objective": f1, "eval_f1": f1})
        trial.set_status("PAUSED")
    assert scheduler._next_perturbation_sync == 2.0
    for trial in trials[:2]:  # a and b reach the next boundary and wait for c
        trial.set_status("RUNNING")
        result = {"epoch": 2.0, "objective": 0.7, "eval_f1": 0.7}
        assert scheduler.on_trial_result(controller, trial, result) == "PAUSE"
        trial.update_last_result(result)
        trial.set_status("PAUSED")
    assert scheduler.choose_trial_to_run(controller).trial_id == "c"
    trials[2].set_status("ERROR")  # c fails on its way there
    scheduler.on_trial_error(controller, trials[2])
    # The generation c would have completed happens now, and a and b train on.
    assert scheduler._next_perturbation_sync == 3.0
    assert scheduler.choose_trial_to_run(controller).trial_id in ("a", "b")


def test_a_finished_trials_checkpoints_outlive_it_in_a_population(tmp_path):
    from hpo_ray.layout import trial_dir
    from hpo_ray.tuning.keep import kept_weights_class

    trials = [population_trial("done", 4.0, status="TERMINATED"), population_trial("copier", 3.0)]
    checkpoint = trial_dir(tmp_path, "done") / "checkpoint_000003"
    checkpoint.mkdir(parents=True)
    keep = kept_weights_class()(str(tmp_path), "max", 1, {}, [], population=True)
    keep.on_trial_complete(0, trials, trials[0])
    assert checkpoint.is_dir()  # the copier restores from it when it next starts
    trials[1].set_status("TERMINATED")
    keep.on_experiment_end(trials)
    assert not checkpoint.exists()
