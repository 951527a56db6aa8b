"""Checks for a population search (``search.scheduler: pbt | pb2``), run when the search is
planned: what PBT and PB2 may change while trials train, and what a population needs."""

from __future__ import annotations

from hpo_ray.config.schema import PBT_MUTABLE, ExperimentConfig
from hpo_ray.errors import check_config


def validate_population(cfg: ExperimentConfig) -> None:
    """PBT and PB2 change values between epochs and hand trials each other's weights: only
    what a resumed optimizer can take over may change, and every trial trains one model."""
    s, t, p = cfg.search, cfg.training, cfg.search.pbt
    where = f"search.scheduler={s.scheduler}"
    check_config(
        bool(s.space),
        f"{where} needs search.space to list what it may change: one of {', '.join(PBT_MUTABLE)}",
    )
    for name, spec in s.space.items():
        check_config(
            name in PBT_MUTABLE,
            f"search.space.{name}: {where} changes values while trials train and can change "
            f"only {', '.join(PBT_MUTABLE)}; fix {name} under training: or use "
            "search.scheduler=asha",
        )
        check_config(
            s.scheduler != "pb2" or spec.type == "float",
            f"search.space.{name}: pb2 models numeric ranges only; give it type float with "
            "low and high, or use search.scheduler=pbt",
        )
    check_config(
        s.searcher != "grid" or s.scheduler == "pbt",
        "search.searcher=grid: pb2 draws its population itself; use searcher random",
    )
    check_config(
        not t.eval_steps, f"training.eval_steps: {where} perturbs at epoch ends; remove eval_steps"
    )
    check_config(
        not cfg.data.folds,
        f"data.folds={cfg.data.folds}: {where} trains one model per trial; set data.folds=0",
    )
    check_config(
        t.finetune == "full",
        f"training.finetune=lora: {where} is built for full "
        "fine-tuning; set training.finetune=full or use search.scheduler=asha",
    )
    check_config(
        s.num_samples >= 2,
        f"search.num_samples={s.num_samples}: {where} needs a population of at least 2 trials",
    )
    check_config(
        1 <= p.interval < t.num_train_epochs,
        f"search.pbt.interval={p.interval} must be "
        f"at least 1 and below training.num_train_epochs={t.num_train_epochs}, or no trial "
        "is ever perturbed",
    )
    check_config(
        0 < p.quantile_fraction <= 0.5,
        f"search.pbt.quantile_fraction={p.quantile_fraction} must be in (0, 0.5]",
    )
    check_config(
        0 <= p.resample_probability <= 1,
        f"search.pbt.resample_probability={p.resample_probability} must be in [0, 1]",
    )
    check_config(
        bool(p.perturbation_factors) and all(f > 0 for f in p.perturbation_factors),
        f"search.pbt.perturbation_factors={p.perturbation_factors} must be positive numbers",
    )
    check_config(
        not s.reseed.top_k,
        f"search.reseed.top_k={s.reseed.top_k}: {where}'s winner is a "
        "schedule, not fixed values, so it is not re-trained with fresh seeds (the refit "
        "replays it); set search.reseed.top_k=0",
    )
    check_config(
        s.max_concurrent_trials is None or s.max_concurrent_trials >= s.num_samples,
        f"search.max_concurrent_trials={s.max_concurrent_trials}: {where} needs all "
        f"{s.num_samples} trials of the population alive at once (Ray would make a trial only "
        "when an earlier one ends); set it to null, and let resources.cpu/gpu per trial decide "
        "how many train side by side",
    )
    check_config(
        cfg.run.checkpoint != "none",
        f"run.checkpoint=none: {where} hands checkpoints between trials; set run.checkpoint=model",
    )
