"""A resumed search's searcher made to agree with its restored trials before it goes on.

Tune snapshots the trials (the experiment state) and the searcher's state (its suggestions,
the concurrency limiter's running set, the count of trials made) together, but an object
store receives them as separate uploads: a driver killed mid-upload leaves one older than the
other. Restored as they are, a searcher older than the trials waits for trials that ended
before the kill (their end is never reported again: the search stalls with idle workers) and
has counted too few trials (the search makes more than ``num_samples``); one newer than the
trials counts suggestions that never became trials.

``AlignSearcher`` is a Tune callback that, at the first step of a run, replays the
suggestions of the trials made after the searcher's state was saved (so a seeded sampler does
not propose them again), sets the limiter's running set to the trials still to run, tells the
searcher how each ended trial ended (a trial it cannot take as its own is learnt from its
result), fails the suggestions that never became trials and sets the count of trials made to
the trials there are. Where the states agree it changes nothing. The searcher and this
callback are pickled together in Tune's ``tuner.pkl``, so the restored callback holds the
restored searcher.

Example::

    search_alg, callbacks = aligned_search(searcher, max_concurrent=2)
    tune.Tuner(..., tune_config=TuneConfig(search_alg=search_alg),
               run_config=RunConfig(callbacks=[*callbacks, ...]))
"""

from __future__ import annotations

from typing import Any

from hpo_ray.lazy import lazy_class, module_getattr
from hpo_ray.tuning.ray_seam import set_live_trials, set_trials_made


def aligned_search(searcher: Any, max_concurrent: int | None) -> tuple[Any, list[Any]]:
    """The search algorithm to give Tune for ``searcher`` (limited to ``max_concurrent``
    running trials) and the callback that aligns it on resume.

    A Tune ``Searcher`` (Optuna) is wrapped as Tune would wrap it, so the callback can hold
    the wrapper; a ``BasicVariantGenerator`` (random, grid) limits itself (Tune ignores
    ``max_concurrent_trials`` for one) and is aligned likewise; None (OFAT, reseed) is left to
    Tune."""
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter, SearchGenerator

    if searcher is None:
        return None, []
    if isinstance(searcher, BasicVariantGenerator):
        searcher.max_concurrent = max_concurrent or 0
        return searcher, [align_searcher_class()(searcher)]
    limited = ConcurrencyLimiter(searcher, max_concurrent) if max_concurrent else searcher
    generator = SearchGenerator(limited)
    return generator, [align_searcher_class()(generator)]


def align(search_alg: Any, trials: list[Any]) -> None:
    """Make ``search_alg`` agree with ``trials`` (Tune's restored trials, the truth)."""
    from ray.tune.experiment import Trial
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    ended = {t.trial_id: t for t in trials if t.status in (Trial.TERMINATED, Trial.ERROR)}
    running = {t.trial_id for t in trials} - set(ended)
    if isinstance(search_alg, BasicVariantGenerator):
        set_live_trials(search_alg, running)
        return
    limiter = search_alg.searcher if isinstance(search_alg.searcher, ConcurrencyLimiter) else None
    searcher = limiter.searcher if limiter is not None else search_alg.searcher
    if hasattr(searcher, "replay"):  # the trials made after the searcher's state, in order
        for trial in sorted(trials, key=made_order):
            searcher.replay(trial.trial_id, trial.config)
    if limiter is not None:
        for trial_id in sorted(limiter.live_trials - running - set(ended)):
            searcher.on_trial_complete(trial_id, error=True)  # suggested, never a trial
        limiter.live_trials = set(running)
        limiter.num_unfinished_live_trials = len(running)
    for trial_id, trial in ended.items():
        failed = trial.status == Trial.ERROR
        searcher.on_trial_complete(
            trial_id, result=None if failed else trial.last_result, error=failed
        )
    set_trials_made(search_alg, len(trials))


def made_order(trial: Any) -> int:
    """The order Tune made a searcher's trial in (its tag starts with the count)."""
    head = str(getattr(trial, "experiment_tag", "")).split("_", 1)[0]
    return int(head) if head.isdigit() else 0


@lazy_class("AlignSearcher", __name__)
def align_searcher_class() -> type:
    from ray import tune

    class AlignSearcher(tune.Callback):
        """Aligns the search algorithm with the trials at the first step of a run."""

        def __init__(self, search_alg: Any) -> None:
            self.search_alg = search_alg
            self.aligned = False

        def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
            if not self.aligned:
                self.aligned = True
                align(self.search_alg, trials)

    return AlignSearcher


__getattr__ = module_getattr(__name__)
