"""Classes that subclass Ray's, made on first use.

Importing a module that defines a Tune callback or searcher would load Ray; the CLI must start
without it. ``lazy_class`` turns a function that defines the class into a cached factory, names
the class as if it were defined at the module's top level, and ``module_getattr`` lets pickle
(Tune saves searchers and callbacks with the experiment) find it there by name.

Example::

    @lazy_class("StudyMirror", __name__)
    def study_mirror_class() -> type:
        from ray import tune

        class StudyMirror(tune.Callback): ...

        return StudyMirror

    __getattr__ = module_getattr(__name__)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

LAZY: dict[str, dict[str, Callable[[], type]]] = {}
"""Per module, its lazy classes by name."""


def lazy_class(name: str, module: str) -> Callable[[Callable[[], type]], Callable[[], type]]:
    """Register ``factory`` as the maker of class ``name`` of ``module`` (made once)."""

    def register(factory: Callable[[], type]) -> Callable[[], type]:
        @functools.cache
        def make() -> type:
            cls = factory()
            cls.__module__, cls.__qualname__, cls.__name__ = module, name, name
            return cls

        make.__doc__ = factory.__doc__
        LAZY.setdefault(module, {})[name] = make
        return make

    return register


def lazy_alias(name: str, module: str, make: Callable[[], type]) -> None:
    """Make ``module.name`` another way to reach a lazy class that moved to another module:
    Tune's saved experiments name classes by the module they were pickled from."""
    LAZY.setdefault(module, {})[name] = make


def module_getattr(module: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` that makes the module's lazy classes when asked for them."""

    def getattr_(name: str) -> Any:
        if name in LAZY.get(module, {}):
            return LAZY[module][name]()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return getattr_
