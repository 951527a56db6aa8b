"""hpo_ray: hyperparameter search for Hugging Face text classifiers on Ray Tune."""

from hpo_ray.config.loading import load_config
from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.errors import ConfigError, UserError

__all__ = ["ConfigError", "ExperimentConfig", "UserError", "load_config"]
__version__ = "0.1.0"
