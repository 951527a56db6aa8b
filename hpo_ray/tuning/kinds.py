"""The kinds of experiment a Tuner runs (the plan's ``kind``).

Example::

    plan.kind is Kind.SEARCH   # a Bayesian, random or grid search (not an OFAT sweep)
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What a Tuner run is: its trials, callbacks and outputs follow from it."""

    SEARCH = "search"
    """Trials proposed by a searcher from ``search.space`` (Bayesian, random, grid)."""
    OFAT = "ofat"
    """One trial per single-axis variant of ``ofat.grid``."""
    RESEED = "reseed"
    """The top trials of a search trained again under fresh seeds."""
