"""Model soups: the weights of several fine-tunings of one pretrained encoder, averaged.

Trials that start from the same pretrained weights and the same head initialisation and end
near each other (what the top trials of a search are) can be averaged into one model that
often scores at least as well as the best of them and moves less with the noise that picked
it (Wortsman et al., "Model soups", ICML 2022). No training: the kept weights of the trials
are read, averaged and scored.

- ``uniform``: the mean of every ingredient.
- ``greedy``: ingredients taken in order of their validation score, each kept only if the
  soup's validation score does not fall with it (so it never scores below the best trial on
  validation; that score is optimistic, as it was chosen there).

Example::

    soup = greedy_soup(trainer, folders, validation, score=lambda m: m["eval_f1"])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def state_of(folder: Path) -> dict[str, Any]:
    """The weights saved in a model folder, as float32 tensors on the CPU."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(folder))
    return {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}


def average(states: list[dict[str, Any]]) -> dict[str, Any]:
    """The element-wise mean of state dicts of identical keys and shapes (integer buffers,
    such as position ids, are taken from the first)."""
    first = states[0]
    out: dict[str, Any] = {}
    for key, value in first.items():
        if value.is_floating_point():
            out[key] = sum(s[key] for s in states) / len(states)
        else:
            out[key] = value
    return out


def same_shapes(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)


@dataclass
class Soup:
    """What the soup was made of and how each step scored on validation."""

    ingredients: list[str]
    """Every candidate, best first (their labels, e.g. trial ids)."""
    greedy: list[str] = field(default_factory=list)
    """The ones the greedy soup kept."""
    steps: list[dict[str, Any]] = field(default_factory=list)
    """Per candidate after the first: its label, the soup's validation score with it, kept."""


def load_into(trainer: Any, state: dict[str, Any]) -> None:
    """Put ``state`` into the trainer's model (same architecture), on its device."""
    trainer.model.load_state_dict(state)
    trainer.model_wrapped = trainer.model


def greedy_soup(
    trainer: Any,
    candidates: list[tuple[str, Path]],
    validation: Any,
    score: Callable[[dict[str, float]], float],
) -> tuple[Soup, dict[str, Any], dict[str, Any]]:
    """The greedy and the uniform soup of ``candidates`` (label, kept-weights folder; best
    first), judged by ``score`` of the trainer's evaluation on ``validation`` (higher is
    better). Returns the record and the two state dicts; the trainer's model is left holding
    the best candidate's weights."""
    states = {label: state_of(folder) for label, folder in candidates}
    labels = [label for label, _ in candidates]
    soup = Soup(ingredients=labels, greedy=[labels[0]])
    best = score(trainer.evaluate(validation))
    for label in labels[1:]:
        trial = average([states[x] for x in [*soup.greedy, label]])
        load_into(trainer, trial)
        value = score(trainer.evaluate(validation))
        kept = value >= best
        soup.steps.append({"ingredient": label, "validation": value, "kept": kept})
        if kept:
            soup.greedy.append(label)
            best = value
    greedy = average([states[x] for x in soup.greedy])
    uniform = average(list(states.values()))
    load_into(trainer, states[labels[0]])
    return soup, greedy, uniform
