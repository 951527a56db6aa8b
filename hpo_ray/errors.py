"""Error types. ``UserError`` and its subclasses are what the user must fix: the CLI prints the
message on one line and exits 2. Any other exception is a bug in hpo_ray: the CLI exits 1 with
the traceback.
"""


class UserError(Exception):
    """Something the user must fix (a config value, an input file, an experiment folder)."""

    exit_code = 2


class ConfigError(UserError, ValueError):
    """Bad configuration or bad input data, found before any expensive work starts."""


def check_config(ok: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``ok``."""
    if not ok:
        raise ConfigError(message)


class ExperimentError(UserError):
    """An experiment folder cannot do what was asked (not an experiment, no Tune state yet, no
    finished trial to pick from)."""


class ModelLoadError(UserError):
    """A model or tokenizer named in the config cannot be loaded (missing folder, no network
    for a hub name, no weights in the folder)."""


class Interrupted(UserError):
    """The user stopped the command (Ctrl-C): what finished is kept, the message says how to
    go on."""

    exit_code = 130
