"""The package's shape: layers that import only downward, no cycles, no private names across
modules, heavy libraries loaded only when used, and a CLI that starts without Ray or torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "hpo_ray"

LAYERS = [
    ("hpo_ray.errors", "hpo_ray.layout", "hpo_ray.lazy", "hpo_ray.storage"),
    ("hpo_ray.config",),
    ("hpo_ray",),  # the package root re-exports load_config and the error types
    ("hpo_ray.data",),
    ("hpo_ray.train",),
    ("hpo_ray.tuning",),
    ("hpo_ray.results",),
    ("hpo_ray.report",),
    ("hpo_ray.workflows",),
    ("hpo_ray.cli",),
]
"""Top to bottom: a module may import from its own layer or the layers above it."""

DEFERS_WORKFLOWS = {"hpo_ray.cli"}
"""Imports each command's workflow inside the command's function, so the CLI answers
``--help`` and refuses a bad config without loading pandas and numpy."""

HEAVY = {
    "ray",
    "torch",
    "transformers",
    "matplotlib",
    "sklearn",
    "peft",
    "mlflow",
    "optuna",
    "datasets",
    "tensorboard",
    "jsonschema",
    "click",
    "cycler",
}
"""Loaded inside the functions that use them, so `hpo-ray --help` and a refused config answer
without loading them."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(name: str) -> int:
    best = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or (prefix != "hpo_ray" and name.startswith(prefix + ".")):
                best = index
    if best is None:
        raise AssertionError(f"{name} is in no layer; add it to LAYERS")
    return best


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def imports(tree: ast.Module) -> list[tuple[str, list[str], bool]]:
    """(module imported, names taken from it, at the top of the file?) for every import."""
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names], id(node) in top))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], id(node) in top) for a in node.names]
    return found


def package_edges() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {name: set() for name in mods}
    for name, tree in mods.items():
        for target, _taken, _ in imports(tree):
            if target == "hpo_ray" or target.startswith("hpo_ray."):
                edges[name].add(target if target in mods else target.rsplit(".", 1)[0])
    return edges


def test_every_module_is_in_a_layer():
    for name in modules():
        layer_of(name)


def test_package_imports_sit_at_the_top_and_point_down():
    problems = []
    for name, tree in modules().items():
        for target, _, at_top in imports(tree):
            if not (target == "hpo_ray" or target.startswith("hpo_ray.")):
                continue
            if not at_top and name not in DEFERS_WORKFLOWS:
                problems.append(f"{name} imports {target} inside a function or block")
            elif layer_of(target) > layer_of(name):
                problems.append(f"{name} imports {target}, a layer below it")
    assert not problems, "\n".join(problems)


def test_no_import_cycles():
    edges = package_edges()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_heavy_libraries_load_inside_functions():
    problems = [
        f"{name} imports {target} at the top"
        for name, tree in modules().items()
        for target, _, at_top in imports(tree)
        if at_top and target.split(".")[0] in HEAVY
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("folder", ["hpo_ray", "tests", "scripts"])
def test_no_private_name_is_imported_from_another_module(folder):
    problems = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for target, names, _ in imports(ast.parse(path.read_text(), str(path))):
            if not target.startswith("hpo_ray"):
                continue
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            private += [target] if any(p.startswith("_") for p in target.split(".")) else []
            problems += [f"{path.relative_to(ROOT)}: {target} {p}" for p in private]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "argv",
    [[], ["--help"], ["search", "{bad}", "training.learning_rate=abc"], ["prepare-data", "--help"]],
)
def test_the_cli_answers_without_ray_torch_transformers_or_pandas(argv, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: {}\n")
    args = [a.format(bad=bad) for a in argv]
    code = (
        "import sys, contextlib, io, hpo_ray.cli\n"
        "quiet = contextlib.redirect_stdout(io.StringIO())\n"
        "with quiet, contextlib.redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        f"        hpo_ray.cli.main({args!r}) if {bool(args)} else None\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(','.join(m for m in ('ray', 'torch', 'transformers', 'optuna', 'datasets', "
        "'matplotlib', 'sklearn', 'pandas', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_experiment_file_name_lives_in_layout():
    names = (
        "hpo_config.yaml",
        "optuna_study.db",
        "ofat_grid.json",
        "summary.txt",
        "best_params.yaml",
        "hpo_trials.csv",
        "own_failure.txt",
        "hpo_artifacts",
        "ofat_artifacts",
        "experiment_state-",
        "metrics.json",
        "labels.json",
    )
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "layout.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                problems += [
                    f"{path.relative_to(ROOT)}:{node.lineno}: {n!r}"
                    for n in names
                    if n in node.value
                    and not node.value.lstrip().startswith(("`", "\n"))
                    and len(node.value) < 60
                ]
    assert not problems, "\n".join(problems)


STRATEGY_MODULES = {
    "hpo_ray.tuning.searchers",
    "hpo_ray.tuning.samplers",
    "hpo_ray.tuning.schedulers",
    "hpo_ray.tuning.registry",
    "hpo_ray.tuning.ray_seam",
}
"""Where searcher, sampler and scheduler names may be written, and (``ray_seam``) Ray's
private names used."""

STRATEGY_FIELDS = {"searcher", "sampler", "scheduler"}


def strategy_names() -> set[str]:
    from hpo_ray.tuning.registry import SAMPLERS, SCHEDULERS, SEARCHERS

    # "none", "random" and "median" are also values of other keys (run.checkpoint,
    # data.fold_aggregate): those are caught where they meet a strategy field, by the
    # comparison rule below
    return {*SEARCHERS, *SAMPLERS, *SCHEDULERS} - {"none", "random", "median"}


def test_strategy_names_are_compared_only_in_the_strategy_modules():
    """Behaviour follows from a strategy's class, not from testing names: a name literal (as
    a value, a key, or in a comparison), or a comparison with a config's searcher, sampler or
    scheduler field, is refused outside the strategy modules (docstrings, messages and the
    config's defaults aside)."""
    names = strategy_names()
    problems = []
    for name, tree in modules().items():
        if name in STRATEGY_MODULES:
            continue
        in_fstrings = {
            id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values
        }
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        docstrings |= {  # attribute docstrings: a string statement after an assignment
            id(b.value)
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef))
            for b in n.body
            if isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant)
        }
        defaults = {  # a config field's default value
            id(n.value) for n in ast.walk(tree) if isinstance(n, ast.AnnAssign) and n.value
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and node.value in names
                and id(node) not in in_fstrings | docstrings | defaults
            ):
                problems.append(f"{name}:{node.lineno} names {node.value!r}")
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(s, ast.Attribute) and s.attr in STRATEGY_FIELDS for s in sides):
                    problems.append(f"{name}:{node.lineno} compares a strategy field")
    assert not problems, "\n".join(problems)


def test_rays_private_names_are_used_only_in_the_seam():
    from hpo_ray.tuning.ray_seam import PRIVATE_NAMES

    problems = [
        f"{name}:{node.lineno} uses {node.attr}"
        for name, tree in modules().items()
        if name != "hpo_ray.tuning.ray_seam"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE_NAMES
    ]
    assert not problems, "\n".join(problems)
