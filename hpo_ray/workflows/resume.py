"""Continue an interrupted search or OFAT sweep with ``Tuner.restore``, then report and refit.

Example::

    outcome = resume_experiment("ray_results/demo", retry_errored=True)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hpo_ray.config.loading import load_experiment_config
from hpo_ray.errors import ExperimentError
from hpo_ray.layout import OWNER_MARK, is_ofat
from hpo_ray.storage import WorkCopy, held_lock, location_of, made_elsewhere, work_copy
from hpo_ray.tuning.interrupt import stoppable
from hpo_ray.tuning.kinds import Kind
from hpo_ray.tuning.runner import check_resources, make_trainable, ray_session
from hpo_ray.workflows.prepare import check_model_folder, preflight, prepare_inputs
from hpo_ray.workflows.search import SearchOutcome, finish, stopped


def resume_experiment(
    exp_dir: str | Path,
    *,
    retry_errored: bool = False,
    overwrite: bool = False,
    address: str | None = None,
    refit: bool | None = None,
    trust_folder: bool = False,
) -> SearchOutcome:
    """Continue ``exp_dir`` (the folder is the truth about where the experiment lives).

    Finished trials are kept as they are; unfinished ones resume from their last checkpoint (or
    start over when they had none); failed ones stay failed unless ``retry_errored``. The
    searcher (Optuna's study, or the grid's position) comes back from the experiment folder.

    Tune's restore unpickles the Tuner and the searcher it saved in the folder, which runs the
    code they name: a folder not marked as made by this user (``storage.made_by_this_user``)
    is refused unless ``trust_folder``.
    """
    location = location_of(exp_dir)
    with held_lock(location), work_copy(location) as copy:
        copy.pull()  # an object store's: the config, the study mirror, the trials' files
        return resume_from(location, copy, retry_errored, overwrite, address, refit, trust_folder)


def resume_from(
    location: str,
    copy: WorkCopy,
    retry_errored: bool,
    overwrite: bool,
    address: str | None,
    refit: bool | None,
    trust_folder: bool = False,
) -> SearchOutcome:
    from ray import tune

    cfg = load_experiment_config(location)
    run = cfg.run
    if address:
        run = dataclasses.replace(run, address=address)
    if refit is False:
        run = dataclasses.replace(run, refit="none")
    cfg = dataclasses.replace(cfg, run=run)
    exp = cfg.experiment_dir
    if not tune.Tuner.can_restore(location):
        raise ExperimentError(
            f"{location} holds no Tune experiment state to resume (the search never started a "
            f"trial); start it again with `hpo-ray search ... --overwrite`"
        )
    if not trust_folder and made_elsewhere(location):
        raise ExperimentError(
            f"{location} was not made by hpo_ray for this user (its {OWNER_MARK} marker lacks "
            "your id), and resuming runs the Python objects Tune pickled in it; resume it only "
            "if you trust where it came from, with --trust-folder"
        )
    if cfg.run.refits:
        check_model_folder(cfg, overwrite, "skip the refit with --no-refit")
    preflight(cfg)
    models, data = prepare_inputs(cfg)
    with ray_session(cfg.run.address, cfg.run.dashboard):
        check_resources(cfg)
        tuner = tune.Tuner.restore(
            location,
            trainable=make_trainable(
                cfg, models, data, kind=Kind.OFAT if is_ofat(exp) else Kind.SEARCH
            ),
            resume_unfinished=True,
            resume_errored=retry_errored,
        )
        with stoppable() as stop:
            tuner.fit()
        copy.pull()  # the trials as they ended
        if stop.requested:
            raise stopped(cfg)
        return finish(cfg, overwrite=overwrite, inputs=(models, data))
