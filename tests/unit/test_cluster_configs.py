"""The shipped cluster-launcher YAMLs pass Ray's own schema; broken ones are refused."""

from pathlib import Path

import pytest
import yaml

from hpo_ray.cli import main
from hpo_ray.config.cluster import check_cluster_config
from hpo_ray.errors import ConfigError

CLUSTER_DIR = Path(__file__).resolve().parents[2] / "configs" / "cluster"
FILES = sorted(CLUSTER_DIR.glob("*.yaml"))


def test_there_is_a_cloud_and_an_on_prem_example():
    providers = {yaml.safe_load(f.read_text())["provider"]["type"] for f in FILES}
    assert {"aws", "local"} <= providers


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_shipped_cluster_configs_validate(path):
    prepared = check_cluster_config(path)
    commands = " ".join(prepared["setup_commands"])
    assert "pip install" in commands and "hpo_ray" in commands
    head = " ".join(prepared["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(max_workers="four"), r"max_workers: 'four' is not of type 'integer'"),
        (lambda c: c.update(setup_comands=["true"]), r"Additional properties are not allowed"),
        (lambda c: c.pop("provider"), r"needs a provider section"),
    ],
)
def test_broken_cluster_configs_are_refused(tmp_path, change, message):
    config = yaml.safe_load((CLUSTER_DIR / "aws-gpu.yaml").read_text())
    change(config)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=message):
        check_cluster_config(path)


def test_cli_check_cluster(capsys, tmp_path):
    assert main(["check-cluster", str(CLUSTER_DIR / "local-onprem.yaml")]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster_name: x\nprovider: {type: local}\n")
    assert main(["check-cluster", str(bad)]) == 2
