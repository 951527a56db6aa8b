"""Tuning: the search space as Optuna/Tune objects, searchers and schedulers by name, the
plan, Ray and the Tuner, the SQLite study mirror and MLflow tracking."""
