"""Run a Bayesian (or random, or grid) search or an OFAT sweep: checks, data, Ray, the Tuner,
then the report and the refit.

Example::

    cfg = load_config("configs/demo.yaml")
    outcome = run_search(cfg)
    outcome.experiment_dir, outcome.trained_dir
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo_ray.config.loading import dump_config
from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.config.trials import ofat_rows, ofat_variants
from hpo_ray.errors import Interrupted
from hpo_ray.layout import CONFIG_FILE, DATA_SPLITS, GRID_FILE, REFERENCES_FILE, SUMMARY, is_ofat
from hpo_ray.report.writer import Report, build_report, preload, write_text
from hpo_ray.storage import (
    EXPERIMENT_KIND,
    delete,
    held_lock,
    join,
    mark_owned,
    work_copy,
    write_file,
)
from hpo_ray.tuning.baseline import reference_points
from hpo_ray.tuning.interrupt import stoppable
from hpo_ray.tuning.kinds import Kind
from hpo_ray.tuning.plan import TunePlan, ofat_plan, plan_warnings, search_plan
from hpo_ray.tuning.runner import (
    build_tuner,
    check_resources,
    make_trainable,
    ray_session,
    with_trial_resources,
)
from hpo_ray.workflows.prepare import (
    Inputs,
    check_data,
    check_outputs,
    preflight,
    prepare_inputs,
)
from hpo_ray.workflows.refit import refit_best
from hpo_ray.workflows.reseed import run_reseed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchOutcome:
    experiment_dir: Path
    """The experiment folder (for an object store: the work copy, removed when the command
    ends; ``location`` names the store's)."""
    artifacts_dir: Path
    trained_dir: Path | None
    location: str = ""
    """Where the experiment lives: its folder, or its object-store URI."""
    summary: str = ""
    """The report's summary, as written at the end."""
    model_location: str | None = None
    """Where the saved model lives (folder or URI), if one was saved."""

    @property
    def artifacts_location(self) -> str:
        return join(self.location or str(self.experiment_dir), self.artifacts_dir.name)


def run_search(
    cfg: ExperimentConfig, *, overwrite: bool = False, trainer_callbacks: Sequence[Any] = ()
) -> SearchOutcome:
    """The main job: search, write the report, refit the best configuration.

    ``trainer_callbacks``: more ``transformers.TrainerCallback`` instances every trial's
    Trainer adds after hpo_ray's own (to observe or change training; the tests inject faults
    with them).
    """
    return run_experiment(
        cfg, search_plan, overwrite=overwrite, trainer_callbacks=trainer_callbacks
    )


def run_ofat(
    cfg: ExperimentConfig, *, overwrite: bool = False, trainer_callbacks: Sequence[Any] = ()
) -> SearchOutcome:
    """The OFAT sweep: every single-axis variant in parallel, then its report (and refit)."""
    return run_experiment(cfg, ofat_plan, overwrite=overwrite, trainer_callbacks=trainer_callbacks)


def run_experiment(
    cfg: ExperimentConfig,
    make_plan: Callable[[ExperimentConfig], TunePlan],
    *,
    overwrite: bool = False,
    trainer_callbacks: Sequence[Any] = (),
    callbacks: list[Any] | None = None,
    inputs: Inputs | None = None,
    trainable: Callable[[dict[str, Any]], None] | None = None,
) -> SearchOutcome:
    """Checks, tokenized data, Ray, the Tuner; then report and refit from the folder.

    ``callbacks`` replace the run's Tune callbacks (``tuning.runner.run_callbacks``) and
    ``inputs`` the data preparation (``prepare_inputs``): the benchmarks time both so.
    ``trainable`` replaces the HF trainable with a Tune function trainable of the caller's
    (given the run's per-trial resources here): the run then reads no data and trains no
    model, so it cannot refit (the scale benchmark's stand-in trials)."""
    if trainable is not None and cfg.run.refits:
        raise ValueError("a run with its own trainable has no model to refit: set run.refit false")
    check_outputs(cfg, overwrite)
    plan = make_plan(cfg)  # name and space errors before any data work
    preflight(cfg, data=trainable is None)
    # The data is read and checked before Ray starts; its tokenizing (and the transformers
    # import) then runs while Ray starts or is joined.
    split = check_data(cfg) if inputs is None and trainable is None else None
    # The lock: a second search of this name is refused.
    with held_lock(cfg.experiment_location, make_parent=True):
        check_outputs(cfg, overwrite)  # again: another search may have begun meanwhile
        return locked_experiment(
            cfg, plan, split, overwrite, trainer_callbacks, callbacks, inputs, trainable
        )


def locked_experiment(
    cfg: ExperimentConfig,
    plan: TunePlan,
    split: Any,
    overwrite: bool,
    trainer_callbacks: Sequence[Any],
    callbacks: list[Any] | None,
    inputs: Inputs | None,
    trainable: Callable[[dict[str, Any]], None] | None = None,
) -> SearchOutcome:
    """``run_experiment`` once its checks passed and it holds the experiment's lock."""
    if plan.kind is Kind.SEARCH:
        for warning in plan_warnings(cfg):
            log.warning(warning)

    exp = cfg.experiment_dir  # the folder, or the local work copy of an object store's
    # Tune warns on every checkpoint snapshot with num_to_keep=1; the policy is deliberate.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    with (
        work_copy(cfg.experiment_location) as copy,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="hpo-driver") as pool,
    ):
        pending: Future[Inputs] | None = None
        if split is not None:
            pending = pool.submit(prepare_inputs, cfg, split)
        pool.submit(preload)  # the report's libraries, imported while trials run
        with ray_session(cfg.run.address, cfg.run.dashboard):
            check_resources(cfg)  # a cluster's resources: checked before any data is read
            if pending is not None:
                inputs = pending.result()
            if trainable is None and inputs is None:
                inputs = prepare_inputs(cfg)
            if overwrite:  # (an object store's work copy is fresh already)
                delete(cfg.experiment_location)
            exp.mkdir(parents=True, exist_ok=True)
            mark_owned(exp, EXPERIMENT_KIND)
            dump_config(cfg, exp / CONFIG_FILE)
            if split is not None:
                write_file(exp / DATA_SPLITS, json.dumps(split.describe(), indent=2))
            if plan.kind is Kind.OFAT:
                write_grid_file(cfg, exp)
            elif plan.kind is Kind.SEARCH:  # which trials are the references (report, refit)
                write_file(exp / REFERENCES_FILE, json.dumps(reference_points(cfg), indent=2))
            copy.push()  # in the store before any trial: a resume starts from these
            if trainable is None:
                assert inputs is not None
                models, data = inputs
                trial = make_trainable(cfg, models, data, trainer_callbacks, kind=plan.kind)
            else:
                trial = with_trial_resources(cfg, trainable)
            with stoppable() as stop:
                build_tuner(cfg, plan, trial, callbacks=callbacks).fit()
            copy.pull()  # an object store's trials, for the reseed, the report and the refit
            if stop.requested:
                raise stopped(cfg)
            if needs_reseed(cfg):
                run_reseed(cfg)  # it trains on Ray: before Ray stops
            # The report is drawn while Ray stops (it reads the folder only).
            report = pool.submit(build_report, exp, final=not cfg.run.refits)
        return finish(cfg, overwrite=overwrite, report=report.result(), inputs=inputs)


def stopped(cfg: ExperimentConfig) -> Interrupted:
    """What Ctrl-C during the trials says: the search is saved, no reseed or refit ran, and
    the command that goes on with it."""
    return Interrupted(
        f"stopped by Ctrl-C: the finished trials and Tune's state are saved in "
        f"{cfg.experiment_location} (no reseed, report or refit ran); go on with "
        f"`hpo-ray resume {cfg.experiment_location}`"
    )


def write_grid_file(cfg: ExperimentConfig, exp_dir: Path) -> None:
    """Mark the folder as an OFAT sweep and record its plan (base values, variants, rows)."""
    base = cfg.base_params()
    plan = {
        "base": {p: base[p] for p in cfg.ofat.grid},
        "variants": ofat_variants(base, cfg.ofat.grid),
        "rows": ofat_rows(base, cfg.ofat.grid),
    }
    write_file(exp_dir / GRID_FILE, json.dumps(plan, indent=2))


def needs_reseed(cfg: ExperimentConfig) -> bool:
    return bool(cfg.search.reseed.top_k) and not is_ofat(cfg.experiment_dir)


def finish(
    cfg: ExperimentConfig,
    *,
    overwrite: bool = False,
    report: Report | None = None,
    inputs: Inputs | None = None,
) -> SearchOutcome:
    """Report from the experiment folder (unless ``report``: it is drawn), then save the
    model if configured (from ``inputs``, the run's tokenized data, when given) and write the
    report's text again, whole, with the model's scores and size."""
    if report is None:
        if needs_reseed(cfg):
            run_reseed(cfg)
        report = build_report(cfg.experiment_dir, final=not cfg.run.refits)
    if not cfg.run.refits:
        return outcome(cfg, report.folder, None)
    results = report.results if not is_ofat(cfg.experiment_dir) else None
    trained = refit_best(cfg, overwrite=overwrite, results=results, inputs=inputs)
    write_text(report, final=True)
    return outcome(cfg, report.folder, trained)


def outcome(cfg: ExperimentConfig, artifacts: Path, trained: Path | None) -> SearchOutcome:
    """What a run hands back, its summary read while the folder is still there."""
    return SearchOutcome(
        cfg.experiment_dir,
        artifacts,
        trained,
        location=cfg.experiment_location,
        summary=(artifacts / SUMMARY).read_text(),
        model_location=cfg.trained_location if trained is not None else None,
    )
