"""YAML -> a validated ``ExperimentConfig``: the only module that reads YAML.

``load_config`` reads a YAML file, applies dotted ``key=value`` overrides, converts every value
to the type the field declares (PyYAML reads ``1e-5`` as a string), validates it (the rules live
in ``hpo_ray.config.validation``) and makes every path absolute. Any problem raises
``ConfigError`` with a one-line message that names the key, the bad value and the fix.

Example::

    cfg = load_config("configs/demo.yaml", ["search.num_samples=4", "resources.gpu=0.5"])
    cfg.search.num_samples  # 4
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from hpo_ray.config.convert import convert_value
from hpo_ray.config.schema import HUB_PREFIX, MODEL_NAME, PKG_PREFIX, ExperimentConfig, ParamSpec
from hpo_ray.config.validation import validate
from hpo_ray.errors import ConfigError, ExperimentError
from hpo_ray.layout import CONFIG_FILE
from hpo_ray.storage import is_uri, location_of, made_elsewhere, work_folder, write_file


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read ``path``, apply ``key=value`` overrides, and return a validated config.

    Relative paths in the config are resolved against the current working directory, once, so
    every Ray worker sees absolute paths.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"config file {str(path)!r} not found; pass the path of a YAML file "
            "such as configs/demo.yaml"
        )
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    for item in overrides or []:
        apply_override(raw, item)
    run = raw.get("run")
    if run is None or (isinstance(run, dict) and not run.get("name")):
        raw["run"] = {**(run or {}), "name": path.stem}
    return resolve_paths(from_dict(raw))


def from_dict(raw: dict[str, Any]) -> ExperimentConfig:
    """Build and validate a config from plain data (as parsed from YAML)."""
    return validate(build(ExperimentConfig, raw, ""))


def dump_config(cfg: ExperimentConfig, path: Path) -> None:
    """Write the resolved config, so ``report``/``resume``/``refit`` can reload it."""
    write_file(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def load_experiment_config(exp_dir: str | Path) -> ExperimentConfig:
    """The config saved in an experiment folder, with the folder itself as the truth about
    where the experiment lives (a moved or copied folder works)."""
    location = location_of(exp_dir)
    path = work_folder(location) / CONFIG_FILE  # an object store's: pulled by the caller
    if not path.is_file():
        raise ExperimentError(
            f"{location} is not an hpo_ray experiment folder (no {CONFIG_FILE}); "
            "pass a folder under ray_results/ (or its URI in the object store)"
        )
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    cfg = from_dict(raw)
    storage, name = location.rsplit("/", 1) if is_uri(location) else os.path.split(location)
    run = dataclasses.replace(cfg.run, storage=storage, name=name)
    cfg = dataclasses.replace(cfg, run=run)
    return as_made_here(cfg, location) if made_elsewhere(location) else cfg


def as_made_here(cfg: ExperimentConfig, location: str) -> ExperimentConfig:
    """The config of a folder made elsewhere (``storage.made_elsewhere``), its outputs moved
    to this machine's defaults: the saved ``run.trained_dir`` and ``data.cache_dir`` are its
    author's (a refit would write, and ``--overwrite`` remove, there); the data tables are
    read where the config names them (the CLI prints all three). A saved
    ``model.trust_remote_code: true`` is refused: it would run code the model carries."""
    trust = "pass --trust-folder to use the folder as saved, if you trust where it came from"
    if cfg.model.trust_remote_code:
        raise ConfigError(
            f"{location} was made elsewhere with model.trust_remote_code: true (loading its "
            f"model runs code the model folder carries); {trust}"
        )
    defaults = {f.name: f.default for f in dataclasses.fields(cfg.run)}
    trained = absolute(str(defaults["trained_dir"]))
    cache = absolute(str({f.name: f.default for f in dataclasses.fields(cfg.data)}["cache_dir"]))
    cfg = dataclasses.replace(
        cfg,
        run=dataclasses.replace(cfg.run, trained_dir=trained),
        data=dataclasses.replace(cfg.data, cache_dir=cache),
    )
    return cfg


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping (PyYAML keeps the
    last silently: a second ``search:`` section would replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is written twice in the same section; keep one",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """A YAML file's content (safe loading), or a ``ConfigError`` with the file, line and
    column of the problem: not text, a syntax error, a key written twice."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file; pass a YAML config") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    if "\0" in text:
        raise ConfigError(f"{path}: a binary file, not YAML; pass a YAML config")
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ConfigError(f"{path}: nested too deep to be a config; flatten it") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"{where}: not valid YAML ({problem})") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML ({first})") from None


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one dotted ``a.b.c=value`` override to the nested mapping ``raw``."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r} is not key=value; write e.g. search.num_samples=4")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except RecursionError:
        raise ConfigError(f"override {key.strip()}=...: nested too deep; flatten it") from None
    except yaml.YAMLError:
        value = text
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {item!r}: {part!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def resolve_paths(cfg: ExperimentConfig) -> ExperimentConfig:
    """A copy with every filesystem path absolute (URIs are left alone)."""
    space = dict(cfg.search.space)
    spec = space.get(MODEL_NAME)
    if spec is not None and spec.values:
        space[MODEL_NAME] = dataclasses.replace(spec, values=[model_path(v) for v in spec.values])
    grid = dict(cfg.ofat.grid)
    if MODEL_NAME in grid:
        grid[MODEL_NAME] = [model_path(v) for v in grid[MODEL_NAME]]
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(
            cfg.data,
            path=table_path(cfg.data.path),
            train_path=table_path(cfg.data.train_path),
            validation_path=table_path(cfg.data.validation_path),
            test_path=table_path(cfg.data.test_path),
            cache_dir=absolute(cfg.data.cache_dir),
        ),
        model=dataclasses.replace(cfg.model, name=model_path(cfg.model.name)),
        search=dataclasses.replace(cfg.search, space=space),
        ofat=dataclasses.replace(cfg.ofat, grid=grid),
        run=dataclasses.replace(
            cfg.run, storage=absolute(cfg.run.storage), trained_dir=absolute(cfg.run.trained_dir)
        ),
    )


@typing.overload
def table_path(location: str) -> str: ...
@typing.overload
def table_path(location: None) -> None: ...
def table_path(location: str | None) -> str | None:
    """A data table made absolute; ``hub:`` names as they are."""
    if location is None or location.startswith(HUB_PREFIX):
        return location
    return absolute(location)


def model_path(name: str) -> str:
    """A model folder made absolute; hub and ``pkg:`` names as they are."""
    if not name.startswith(PKG_PREFIX) and Path(name).expanduser().exists():
        return absolute(name)
    return name


def absolute(p: str) -> str:
    """``p`` as an absolute path; a URI (``scheme://...``) unchanged."""
    if is_uri(p):
        return p
    try:
        return str(Path(p).expanduser().resolve())
    except RuntimeError:  # ~user of a user that does not exist
        raise ConfigError(f"path {p!r}: no such user's home folder; write the full path") from None


def build(cls: type, raw: Any, prefix: str) -> Any:
    """An instance of dataclass ``cls`` from a mapping; unknown keys are refused."""
    where = prefix.rstrip(".") or "the config"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    required = [
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in raw]
    if missing:
        raise ConfigError(f"{prefix}{missing[0]} is required in {where}; set it")
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(names)}"
            raise ConfigError(f"unknown key '{prefix}{key}'; {hint}")
        kwargs[key] = convert_field(value, hints[key], f"{prefix}{key}")
    return cls(**kwargs)


def convert_field(value: Any, tp: Any, key: str) -> Any:
    """``value`` as the annotated type ``tp``; nested sections become dataclasses."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if value is None and type(None) in args:
            return None
        if dataclasses.is_dataclass(inner[0]):
            return build(inner[0], value, key + ".")  # type: ignore[arg-type]
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key + ".")  # type: ignore[arg-type]
    if origin is dict and args and args[1] is ParamSpec:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        for k in value:
            if not isinstance(k, str):
                raise ConfigError(
                    f"{key}: the key {k!r} is not a name; search.space keys are training "
                    "parameters such as learning_rate"
                )
        return {k: build(ParamSpec, v, f"{key}.{k}.") for k, v in value.items()}
    return convert_value(value, tp, key)
