"""Run by test_faults: a search on a 3-node Ray cluster simulated on this machine, removing a
worker node once a trial has reported from it. Writes what happened as JSON.

Usage: python cluster_scenario.py CONFIG.yaml OUT.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from hpo_ray.config.loading import load_config
from hpo_ray.workflows.search import run_search


def node_history(exp: Path) -> dict[str, list[str]]:
    """Per trial, the node ids of its reports in order."""
    out = {}
    for trial_dir in sorted(exp.glob("trial_*")):
        path = trial_dir / "result.json"
        if path.is_file():
            lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
            ids = [json.loads(ln).get("node_id") for ln in lines]
            out[trial_dir.name.removeprefix("trial_")] = [i for i in ids if i]
    return out


def main() -> None:
    config, out = Path(sys.argv[1]), Path(sys.argv[2])
    cfg = load_config(config)
    temp = tempfile.mkdtemp(prefix="hpo-cluster-", dir="/tmp")
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "temp_dir": temp, "include_dashboard": False},
    )
    workers = [cluster.add_node(num_cpus=1, resources={f"worker{i}": 1}) for i in range(2)]
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    victim = workers[0]
    removed: dict[str, str] = {}
    exp = cfg.experiment_dir

    def remove_when_busy() -> None:
        deadline = time.time() + 300
        while time.time() < deadline:
            hist = node_history(exp)
            if any(victim.node_id in ids for ids in hist.values()):
                cluster.remove_node(victim, allow_graceful=False)
                removed["node"] = victim.node_id
                return
            time.sleep(0.3)

    watcher = threading.Thread(target=remove_when_busy, daemon=True)
    watcher.start()
    run_search(cfg)
    watcher.join(timeout=1)

    from hpo_ray.results.trials import SearchResults

    analysis_failures = {}
    state = sorted(exp.glob("experiment_state-*.json"))[-1]
    for trial_json, meta in json.loads(state.read_text())["trial_data"]:
        analysis_failures[json.loads(trial_json)["trial_id"]] = json.loads(meta)["num_failures"]
    SearchResults.load(exp)  # the folder reads back
    out.write_text(
        json.dumps(
            {
                "removed_node": removed.get("node"),
                "nodes_per_trial": node_history(exp),
                "failures": analysis_failures,
            }
        )
    )
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main()
