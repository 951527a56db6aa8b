"""The one user-error type: the CLI prints its message on one line and exits 2."""


class ConfigError(ValueError):
    """Bad configuration or bad input data, found before any expensive work starts."""
