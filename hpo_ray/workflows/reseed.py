"""Seed-robust selection, run side: re-train the search's top configurations with fresh seeds.

The ``search.reseed.top_k`` best configurations are trained again with ``search.reseed.seeds``
fresh training seeds each (a Tune grid, in parallel, under ``ray_results/<name>/reseed/``);
``hpo_ray.results.reseed`` reads them and picks the winner by mean.

Example::

    run_reseed(cfg)   # ray_results/<name>/reseed, or None when reseed is off
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from hpo_ray.config.loading import dump_config
from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.layout import CONFIG_FILE, RESEED_DIR
from hpo_ray.results.reseed import (
    finished_reseed_runs,
    fresh_seeds,
    reseed_candidates,
    reseed_dir,
)
from hpo_ray.results.trials import SearchResults
from hpo_ray.storage import WorkCopy, delete, work_copy
from hpo_ray.tuning.plan import reseed_plan
from hpo_ray.tuning.runner import build_tuner, make_trainable, ray_session
from hpo_ray.workflows.prepare import prepare_inputs


def reseed_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """The config of the reseed runs: an experiment of its own inside the search's folder (or
    under its prefix in an object store)."""
    run = dataclasses.replace(
        cfg.run, storage=cfg.experiment_location, name=RESEED_DIR, refit="none"
    )
    search = dataclasses.replace(
        cfg.search, reseed=dataclasses.replace(cfg.search.reseed, top_k=0), scheduler="none"
    )
    return dataclasses.replace(cfg, run=run, search=search)


def run_reseed(cfg: ExperimentConfig) -> Path | None:
    """Re-train the top configurations once per fresh seed (skipped if already done); returns
    their folder in the experiment folder (for an object store: in its work copy, pulled)."""
    if not cfg.search.reseed.top_k:
        return None
    folder = reseed_dir(cfg)
    candidates = reseed_candidates(SearchResults.load(cfg.experiment_dir), cfg.search.reseed.top_k)
    expected = len(candidates) * cfg.search.reseed.seeds
    if folder.is_dir() and finished_reseed_runs(folder) == expected:
        return folder
    sub = reseed_config(cfg)
    # A partial re-run is cheaper to redo than merge.
    delete(sub.experiment_location)
    shutil.rmtree(folder, ignore_errors=True)
    plan = reseed_plan(candidates, fresh_seeds(cfg))
    models, data = prepare_inputs(cfg)
    with work_copy(sub.experiment_location) as copy:
        copy.local.mkdir(parents=True)
        dump_config(sub, copy.local / CONFIG_FILE)
        copy.push()
        with ray_session(cfg.run.address, cfg.run.dashboard):
            build_tuner(sub, plan, make_trainable(sub, models, data)).fit()
    WorkCopy(sub.experiment_location, local=folder).pull()  # an object store's runs
    return folder
