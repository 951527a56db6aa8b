"""``hpo-ray``: one small function per subcommand, each a call into the library.

User errors (``ConfigError``) print one line and exit 2; anything else is a bug and shows
its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from hpo_ray.errors import ConfigError


def _search(args: argparse.Namespace) -> int:
    from hpo_ray.search import run_ofat, run_search

    run = run_ofat if args.command == "ofat" else run_search
    cfg = _load(args)
    _print_outcome(run(cfg, overwrite=args.overwrite))
    return 0


def _load(args: argparse.Namespace) -> Any:
    from hpo_ray.config import load_config

    overrides = list(args.overrides)
    if args.address:
        overrides.append(f"run.address={args.address}")
    if args.no_refit:
        overrides.append("run.refit=false")
    return load_config(args.config, overrides)


def _resume(args: argparse.Namespace) -> int:
    from hpo_ray.search import resume_experiment

    outcome = resume_experiment(
        args.experiment,
        retry_errored=args.retry_errored,
        overwrite=args.overwrite,
        address=args.address,
        refit=False if args.no_refit else None,
    )
    _print_outcome(outcome)
    return 0


def _print_outcome(outcome: Any) -> None:
    print(f"results: {outcome.artifacts_dir}")
    print((outcome.artifacts_dir / "summary.txt").read_text(), end="")
    if outcome.trained_dir:
        print(f"tuned model: {outcome.trained_dir}")


def _report(args: argparse.Namespace) -> int:
    from hpo_ray.results import write_report

    out = write_report(Path(args.experiment))
    print(f"results: {out}")
    print((out / "summary.txt").read_text(), end="")
    return 0


def _refit(args: argparse.Namespace) -> int:
    from hpo_ray.refit import refit_best
    from hpo_ray.results import load_experiment_config

    cfg = load_experiment_config(Path(args.experiment).resolve())
    print(f"tuned model: {refit_best(cfg, overwrite=args.overwrite)}")
    return 0


def _check_cluster(args: argparse.Namespace) -> int:
    from hpo_ray.cluster import check_cluster_config

    prepared = check_cluster_config(args.cluster_config)
    print(f"{args.cluster_config}: valid ({prepared['provider']['type']} provider)")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from hpo_ray.corpus import prepare_demo_dataset

    path = prepare_demo_dataset(Path(args.out), overwrite=args.overwrite)
    print(f"demo corpus: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hpo-ray", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    for command, help_text, example in (
        ("search", "Bayesian search, report, refit the best model", "configs/demo.yaml"),
        ("ofat", "one-factor-at-a-time sweep (ofat.grid), report", "configs/ofat_demo.yaml"),
    ):
        p = sub.add_parser(command, help=help_text)
        p.add_argument("config", help=f"experiment YAML, e.g. {example}")
        p.add_argument("overrides", nargs="*", help="dotted key=value, e.g. resources.gpu=0.5")
        p.add_argument("--address", help="Ray cluster to join (auto, ray://host:10001)")
        p.add_argument(
            "--overwrite",
            action="store_true",
            help="replace an existing experiment folder and model folder",
        )
        p.add_argument("--no-refit", action="store_true", help="skip the refit of the best config")
        p.set_defaults(func=_search)

    p = sub.add_parser("resume", help="continue an interrupted search or OFAT sweep")
    p.add_argument("experiment", help="e.g. ray_results/demo")
    p.add_argument("--address", help="Ray cluster to join (auto, ray://host:10001)")
    p.add_argument(
        "--retry-errored", action="store_true", help="run failed trials again (from checkpoint)"
    )
    p.add_argument("--overwrite", action="store_true", help="refit into a non-empty model folder")
    p.add_argument("--no-refit", action="store_true", help="skip the refit of the best config")
    p.set_defaults(func=_resume)

    p = sub.add_parser("report", help="rewrite CSV, plots and summary of an experiment folder")
    p.add_argument("experiment", help="e.g. ray_results/demo")
    p.set_defaults(func=_report)

    p = sub.add_parser("refit", help="refit the best config of an experiment folder")
    p.add_argument("experiment", help="e.g. ray_results/demo")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    p.set_defaults(func=_refit)

    p = sub.add_parser("check-cluster", help="validate a `ray up` YAML against Ray's schema")
    p.add_argument("cluster_config", help="e.g. configs/cluster/aws-gpu.yaml")
    p.set_defaults(func=_check_cluster)

    p = sub.add_parser("prepare-data", help="write the demo corpus to datasets/dataset.csv")
    p.add_argument("--out", default="datasets/dataset.csv")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"hpo-ray: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
