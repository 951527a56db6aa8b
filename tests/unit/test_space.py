from dataclasses import asdict

import optuna
import pytest
from ray.tune.search.sample import Categorical, Float, Integer

from hpo_ray.config.loading import from_dict
from hpo_ray.config.schema import ParamSpec, TrainingConfig
from hpo_ray.config.trials import trial_params
from hpo_ray.errors import ConfigError
from hpo_ray.tuning.registry import SCHEDULERS, SEARCHERS, make_scheduler, make_searcher
from hpo_ray.tuning.schedulers import is_population
from hpo_ray.tuning.searchers import check_search as validate_search
from hpo_ray.tuning.space import optuna_space, tune_space

SPACE = {
    "learning_rate": ParamSpec(type="float", low=1e-5, high=5e-4, log=True),
    "num_train_epochs": ParamSpec(type="int", low=2, high=6),
    "per_device_train_batch_size": ParamSpec(type="categorical", values=[8, 16, 32]),
    "weight_decay": ParamSpec(type="float", low=0.0, high=0.15),
}


def test_optuna_space():
    space = optuna_space(SPACE)
    assert space["learning_rate"] == optuna.distributions.FloatDistribution(1e-5, 5e-4, log=True)
    assert space["num_train_epochs"] == optuna.distributions.IntDistribution(2, 6)
    assert space["per_device_train_batch_size"].choices == (8, 16, 32)
    assert space["weight_decay"] == optuna.distributions.FloatDistribution(0.0, 0.15)


def test_tune_space_bounds_are_inclusive():
    space = tune_space(SPACE)
    assert isinstance(space["learning_rate"], Float)
    assert isinstance(space["num_train_epochs"], Integer)
    assert space["num_train_epochs"].upper == 7  # randint's upper bound is exclusive
    assert isinstance(space["per_device_train_batch_size"], Categorical)
    samples = {space["num_train_epochs"].sample() for _ in range(300)}
    assert samples == {2, 3, 4, 5, 6}


def test_trial_params_override_base():
    params = trial_params(asdict(TrainingConfig()), {"learning_rate": 3e-4, "unknown": 1})
    assert params["learning_rate"] == 3e-4 and "unknown" not in params
    assert params["num_train_epochs"] == TrainingConfig().num_train_epochs


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
@pytest.mark.parametrize("searcher", sorted(SEARCHERS))
def test_every_registered_pair_builds(searcher, scheduler):
    # PB2 models numeric ranges only; the others take listed values (as the grid needs).
    spec = (
        {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}
        if scheduler == "pb2"
        else {"type": "categorical", "values": [1e-5, 1e-4, 1e-3]}
    )
    cfg = from_dict(
        {"search": {"searcher": searcher, "scheduler": scheduler, "space": {"learning_rate": spec}}}
    )
    if searcher == "grid" and scheduler == "pb2":
        with pytest.raises(ConfigError, match="pb2 draws its population itself"):
            validate_search(cfg)
        return
    validate_search(cfg)
    alg, param_space = make_searcher(cfg)
    assert alg is not None and make_scheduler(cfg) is not None
    # Optuna keeps the space inside the searcher; random and grid hand it to the Tuner. A
    # population is drawn at random even when Optuna is named (Ray's PBT takes no searcher).
    assert ("learning_rate" in param_space) == (searcher != "optuna" or is_population(cfg))


def test_optuna_needs_a_space():

    with pytest.raises(ConfigError, match="search.space is empty"):
        make_searcher(from_dict({}))


def test_conditional_space_is_define_by_run_and_pickles():
    import pickle

    from hpo_ray.tuning.space import DefineByRun

    cfg = from_dict(
        {
            "search": {
                "space": {
                    "loss": {"type": "categorical", "values": ["ce", "focal"]},
                    "focal_gamma": {"type": "float", "low": 1.0, "high": 3.0},
                }
            }
        }
    )
    searcher, _ = make_searcher(cfg)
    pickle.loads(pickle.dumps(searcher))  # Tune saves the searcher with the experiment
    define = DefineByRun(cfg.search.space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        define(trial)
        assert ("focal_gamma" in trial.params) == (trial.params["loss"] == "focal")
        study.tell(trial, 0.0)
    assert {t.params["loss"] for t in study.trials} == {"ce", "focal"}


def test_optuna_searcher_ignores_a_trial_its_restored_state_never_saw():
    """After a driver crash Tune's experiment state can list a trial created after the
    searcher's state was saved; resuming fed its results to OptunaSearch, which raised
    KeyError and ended the resume (seen in CI under load)."""
    cfg = from_dict(
        {
            "search": {
                "searcher": "optuna",
                "baseline": "training",  # one enqueued point: the study holds one trial
                "space": {
                    "learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}
                },
            }
        }
    )
    searcher, _ = make_searcher(cfg)
    searcher.set_search_properties("objective", "max", {})
    known = searcher.suggest("known")
    assert "learning_rate" in known
    searcher.on_trial_result("lost", {"objective": 0.5, "training_iteration": 1})
    searcher.on_trial_complete("lost", {"objective": 0.5, "training_iteration": 1})
    searcher.on_trial_result("known", {"objective": 0.7, "training_iteration": 1})
    searcher.on_trial_complete("known", {"objective": 0.7, "training_iteration": 1})
    assert [t.value for t in searcher.study.trials] == [0.7]


def _suggestions(startup: int, n: int) -> list[float]:
    cfg = from_dict(
        {
            "search": {
                "searcher": "optuna",
                "seed": 3,
                "n_startup_trials": startup,
                "space": {
                    "learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}
                },
            }
        }
    )
    searcher, _ = make_searcher(cfg)
    searcher.set_search_properties("objective", "max", {})
    out = []
    for i in range(n):
        lr = searcher.suggest(f"t{i}")["learning_rate"]
        out.append(lr)
        # A peaked objective: the TPE model, once it runs, moves toward lr = 1e-4.
        result = {"objective": -abs(lr - 1e-4), "training_iteration": 1}
        searcher.on_trial_complete(f"t{i}", result)
    return out


def test_n_startup_trials_sets_when_tpe_takes_over():
    """With the default of 10 random start-up trials a search of 4-6 trials is random search;
    search.n_startup_trials lets TPE use what it has seen from trial 3 on."""
    early, default = _suggestions(2, 4), _suggestions(10, 4)
    assert early[:2] == default[:2]  # the same seeded random start
    assert early[2:] != default[2:]  # then TPE's guesses, not the random sampler's


def test_n_startup_trials_must_be_positive():
    with pytest.raises(ConfigError, match="search.n_startup_trials=0"):
        from_dict({"search": {"n_startup_trials": 0}})


PARITY = {
    "float": ParamSpec(type="float", low=0.0, high=0.3),
    "float_log": ParamSpec(type="float", low=1e-5, high=1e-3, log=True),
    "float_step": ParamSpec(type="float", low=0.05, high=0.3, step=0.05),
    "int": ParamSpec(type="int", low=2, high=6),
    "int_log": ParamSpec(type="int", low=2, high=64, log=True),
    "int_step": ParamSpec(type="int", low=8, high=64, step=8),
    "int_step_offset": ParamSpec(type="int", low=10, high=40, step=6),
    "categorical": ParamSpec(type="categorical", values=[8, 16, 32]),
}


@pytest.mark.parametrize("name", sorted(PARITY))
def test_random_search_draws_only_what_optuna_could_propose(name):
    # One definition, two translators: every value a Tune domain draws (random search, PBT's
    # resampling) is one the Optuna distribution holds, and together they reach both ends.
    spec = PARITY[name]
    dist = optuna_space({name: spec})[name]
    domain = tune_space({name: spec})[name]
    drawn = domain.sample(size=2000, random_state=0)
    for value in drawn:
        assert holds(dist, value), (name, value)
    if spec.type == "int" and spec.step:
        assert set(drawn) == set(range(int(spec.low), int(spec.high) + 1, int(spec.step)))
    elif spec.type == "int":
        assert min(drawn) == spec.low and max(drawn) == spec.high
    elif spec.type == "float" and spec.step:
        assert len(set(drawn)) == round((spec.high - spec.low) / spec.step) + 1


def holds(dist, value) -> bool:
    """Whether Optuna's ``dist`` can propose ``value`` (from its public fields)."""
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return value in dist.choices
    if not dist.low <= value <= dist.high:
        return False
    step = getattr(dist, "step", None)
    return not step or abs((value - dist.low) / step - round((value - dist.low) / step)) < 1e-9
