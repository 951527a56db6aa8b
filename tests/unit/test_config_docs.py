"""docs/configuration.md is the reference ``hpo_ray.config.docs`` generates from the schema:
it must match a fresh generation, and name every field of every config dataclass."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from hpo_ray.config import docs, run, schema
from hpo_ray.tuning import registry

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"


def config_classes() -> list[type]:
    """Every dataclass defined in the two schema modules."""
    return [
        cls
        for module in (schema, run)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
    ]


def test_reference_is_up_to_date() -> None:
    assert REFERENCE.is_file(), f"{REFERENCE} is missing: run `{docs.COMMAND}`"
    assert REFERENCE.read_text() == docs.reference(), (
        f"{REFERENCE.relative_to(ROOT)} differs from the schema: run `{docs.COMMAND}`"
    )


def test_every_config_class_is_a_section() -> None:
    covered = {s.cls for s in docs.sections()} | {schema.ExperimentConfig}
    missing = [cls.__name__ for cls in config_classes() if cls not in covered]
    assert not missing, f"config dataclasses with no section in the reference: {missing}"


def test_every_field_appears_with_a_meaning() -> None:
    text = docs.reference()
    for section in docs.sections():
        body = text.split(f"## `{section.key}`\n", 1)[1].split("\n## ", 1)[0]
        for f in dataclasses.fields(section.cls):
            rows = [line for line in body.splitlines() if line.startswith(f"| `{f.name}` |")]
            assert rows, f"{section.key}.{f.name} is not in the reference"
            meaning = rows[0].rstrip(" |").rsplit(" | ", 1)[1]
            assert meaning.strip(), (
                f"{section.key}.{f.name} has no docstring: write one under the field in "
                f"{section.cls.__module__}"
            )
    top = dataclasses.fields(schema.ExperimentConfig)
    assert all(f"- `{f.name}`: " in text for f in top)


def test_allowed_values_are_named() -> None:
    """Where the schema lists the values a key accepts, the reference names each of them."""
    text = docs.reference()
    for key, allowed in {
        "search.metric": schema.METRICS,
        "search.sampler": ("auto", *registry.SAMPLERS),
        "search.scheduler": ("auto", *registry.SCHEDULERS),
        "search.searcher": tuple(registry.SEARCHERS),
        "training.lr_scheduler_type": schema.LR_SCHEDULERS,
        "training.loss": schema.LOSSES,
        "training.finetune": schema.FINETUNE,
        "data.format": schema.DATA_FORMATS,
        "search.average": schema.AVERAGES,
        "run.refit": run.REFIT_MODES,
        "run.checkpoint": run.CHECKPOINT_POLICIES,
        "search.space.<name>.type": schema.PARAM_TYPES,
    }.items():
        section, name = key.rsplit(".", 1)
        body = text.split(f"## `{section}`\n", 1)[1].split("\n## ", 1)[0]
        row = next(line for line in body.splitlines() if line.startswith(f"| `{name}` |"))
        for value in allowed:
            assert f"`{value}`" in row, f"{key}: the reference does not name {value!r}"


def test_main_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert docs.main([]) == 0
    assert capsys.readouterr().out == docs.reference()
    out = tmp_path / "configuration.md"
    assert docs.main(["--write", "--out", str(out)]) == 0
    assert out.read_text() == docs.reference()
