"""hpo_ray: hyperparameter search for Hugging Face text classifiers on Ray Tune."""

from hpo_ray.config import ExperimentConfig, load_config
from hpo_ray.errors import ConfigError

__all__ = ["ConfigError", "ExperimentConfig", "load_config"]
__version__ = "0.1.0"
