"""Credentials in URIs go to their clients' environment variables, never into files."""

from __future__ import annotations

import pytest

from hpo_ray.config.loading import dump_config, from_dict, load_experiment_config
from hpo_ray.config.secrets import redact, split_credentials
from hpo_ray.errors import ConfigError

ENV = (
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("uri", "clean", "found"),
    [
        (
            "https://me:pw@ml.example.com:5000/x",
            "https://ml.example.com:5000/x",
            {"password": "pw"},
        ),
        ("s3://b/runs?endpoint_override=h&secret_key=SK", "s3://b/runs?endpoint_override=h", {}),
        ("sqlite:///mlflow.db", "sqlite:///mlflow.db", {}),
        ("ray_results/a@b", "ray_results/a@b", {}),
    ],
)
def test_credentials_are_split_from_uris(uri, clean, found):
    out, taken = split_credentials(uri)
    assert out == clean and redact(uri) == clean
    assert found.items() <= taken.items()


def test_a_tracking_password_moves_to_mlflows_variables_and_no_file_holds_it(tmp_path, clean_env):
    raw = {
        "run": {"name": "exp", "storage": str(tmp_path), "trained_dir": str(tmp_path / "t")},
        "tracking": {"mlflow": {"uri": "https://me:SEKRIT@ml.example.com"}},
    }
    cfg = from_dict(raw)
    assert cfg.tracking.mlflow is not None
    assert cfg.tracking.mlflow.uri == "https://ml.example.com"
    import os

    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "me"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "SEKRIT"
    folder = tmp_path / "exp"
    folder.mkdir()
    dump_config(cfg, folder / "hpo_config.yaml")
    assert "SEKRIT" not in (folder / "hpo_config.yaml").read_text()
    again = load_experiment_config(folder)  # a resume: the URI as saved, the password from env
    assert again.tracking.mlflow is not None
    assert again.tracking.mlflow.uri == "https://ml.example.com"


def test_store_keys_move_to_the_aws_variables(tmp_path, clean_env):
    uri = "s3://bucket/runs?access_key=AK&secret_key=SK"
    cfg = from_dict({"run": {"storage": uri, "trained_dir": str(tmp_path)}})
    import os

    assert cfg.run.storage == "s3://bucket/runs"
    assert (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]) == ("AK", "SK")


def test_a_credential_no_variable_can_hold_is_refused_without_echoing_it(tmp_path, clean_env):
    uri = "gs://bucket/runs?token=SEKRIT"
    with pytest.raises(ConfigError) as err:
        from_dict({"run": {"storage": uri, "trained_dir": str(tmp_path)}})
    assert "SEKRIT" not in str(err.value) and "run.storage='gs://bucket/runs'" in str(err.value)
