"""Bounded disk while a search runs: the kept weights of the best trials, nothing else.

With ``run.refit: keep`` every trial keeps its best epoch's weights in its folder
(``layout.TRIAL_BEST_MODEL``, written by the trainable). ``KeptWeights``, a Tune callback on the
driver, removes them from each finished trial that is not among the experiment's ``keep`` best
(by the objective, ties to the earlier trial, as ``SearchResults.ranked`` orders them) or a
reference (the baseline, the Trainer's defaults). It also removes a finished trial's Tune
checkpoints, which only an unfinished trial needs (to resume). So the disk holds the best few,
the references and one set of weights per running trial; a run's end sweeps whatever a
stopping trial wrote late.

Example::

    callbacks = [kept_weights(cfg)]   # [] unless run.refit is keep
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hpo_ray.config.schema import OBJECTIVE, ExperimentConfig
from hpo_ray.config.trials import is_baseline, is_point
from hpo_ray.layout import TRIAL_BEST_MODEL, TUNE_CHECKPOINT_GLOB, trial_dir_name
from hpo_ray.lazy import lazy_class, module_getattr
from hpo_ray.storage import delete, join, subfolders
from hpo_ray.tuning.baseline import reference_points
from hpo_ray.tuning.interrupt import stop_requested
from hpo_ray.tuning.schedulers import is_population

Scored = tuple[str, float | None, bool]
"""A trial's id, its objective (None before its first evaluation) and whether it is a
reference (the baseline, the Trainer's defaults)."""


def keep_count(cfg: ExperimentConfig) -> int:
    """How many of the best trials keep their weights: a soup's ingredients
    (``run.soup_k``) or the reseed's candidates, whichever is more, else one."""
    soup = cfg.run.soup_k if cfg.run.refit == "soup" else 1
    return max(1, soup, cfg.search.reseed.top_k)


def trials_to_keep(scored: Iterable[Scored], mode: str, count: int) -> set[str]:
    """The ids whose weights stay: the ``count`` best by objective (ties: the earlier, as
    listed) and every reference."""
    listed = list(scored)
    ranked = [(i, tid, v) for i, (tid, v, _) in enumerate(listed) if v is not None and v == v]
    sign = -1.0 if mode == "max" else 1.0
    ranked.sort(key=lambda item: (sign * float(item[2]), item[0]))
    best = {tid for _, tid, _ in ranked[:count]}
    return best | {tid for tid, _, base in listed if base}


def drop_weights(folder: str) -> None:
    """Remove a trial's kept weights from its folder (a path or an object-store URI)."""
    for name in (TRIAL_BEST_MODEL, f".tmp-{TRIAL_BEST_MODEL}", f".old-{TRIAL_BEST_MODEL}"):
        delete(join(folder, name))


def keeps_weights(cfg: ExperimentConfig) -> bool:
    """Whether the trials keep their best weights: the model is kept or made of kept weights
    (``run.refit: keep`` or ``soup``), or the search is a population (the weights carry the
    schedule a refit replays, and the search's own model is saved beside the replay), and a
    trial trains one model on the train split (no k folds)."""
    kept = cfg.run.refit in ("keep", "soup")
    return (kept or is_population(cfg)) and not cfg.data.folds


def kept_weights(cfg: ExperimentConfig) -> list[Any]:
    """The callback for a run whose trials keep their weights, else nothing."""
    if not keeps_weights(cfg):
        return []
    return [
        kept_weights_class()(
            cfg.experiment_location,
            cfg.search.mode,
            keep_count(cfg),
            cfg.base_params(),
            list(cfg.search.space),
            population=is_population(cfg),
            references=list(reference_points(cfg).values()),
        )
    ]


@lazy_class("KeptWeights", __name__)
def kept_weights_class() -> type:
    from ray import tune

    class KeptWeights(tune.Callback):
        """Removes beaten trials' kept weights and finished trials' checkpoints (in a
        population, at the end only: a trial that copied a checkpoint from a trial that has
        since finished restores from it when it next starts)."""

        def __init__(
            self,
            exp_dir: str,
            mode: str,
            keep: int,
            base: dict[str, Any],
            space: list[str],
            population: bool = False,
            references: list[dict[str, Any]] | None = None,
        ) -> None:
            self.exp_dir, self.mode, self.keep = exp_dir, mode, keep
            self.base, self.space, self.population = base, space, population
            self.references = references or []
            self.ended = False
            self.settled: set[str] = set()
            """Finished trials with nothing left on disk to remove (not looked at again)."""

        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any):
            self.prune(trials, ending=trial.trial_id)

        def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any):
            self.prune(trials, ending=trial.trial_id)

        def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
            if stop_requested():  # stopped, not finished: the resume needs their checkpoints
                return
            self.settled.clear()  # a stopped trial may have written once more: look again
            self.ended = True
            self.prune(trials)

        def prune(self, trials: list[Any], ending: str | None = None) -> None:
            scored = [
                (
                    t.trial_id,
                    (t.last_result or {}).get(OBJECTIVE),
                    is_baseline(t.config, self.base, self.space)
                    or any(is_point(t.config, point) for point in self.references),
                )
                for t in trials
            ]
            keep = trials_to_keep(scored, self.mode, self.keep)
            for t in trials:
                finished = t.status in ("TERMINATED", "ERROR")
                if t.trial_id in self.settled or (not finished and t.trial_id != ending):
                    continue  # settled, or running: its weights may still be written
                folder = join(self.exp_dir, trial_dir_name(t.trial_id))
                if t.trial_id not in keep:
                    drop_weights(folder)
                if self.population and not self.ended:
                    continue  # its checkpoints may still be copied from
                if t.status == "TERMINATED":  # the ending trial's worker may still write
                    for checkpoint in subfolders(folder, TUNE_CHECKPOINT_GLOB):
                        delete(checkpoint)
                    if t.trial_id not in keep:
                        self.settled.add(t.trial_id)

    return KeptWeights


__getattr__ = module_getattr(__name__)
