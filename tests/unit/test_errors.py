"""Error types and how the CLI maps them: a user's mistake is one line and exit 2, a bug is a
traceback and exit 1."""

from __future__ import annotations

import pytest

from hpo_ray.cli import main
from hpo_ray.errors import ConfigError, ExperimentError, ModelLoadError, UserError


@pytest.mark.parametrize("error", [ConfigError, ExperimentError, ModelLoadError])
def test_user_errors_share_one_base_with_exit_code_2(error):
    assert issubclass(error, UserError) and error("x").exit_code == 2
    assert not issubclass(RuntimeError, UserError)


def test_a_user_error_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not an hpo_ray experiment folder" in err[0]


def test_debug_shows_the_traceback_of_a_user_error(tmp_path, capsys):
    assert main(["--debug", "report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().endswith("(or its URI in the object store)")


def test_a_bug_is_a_traceback_and_exit_1(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    import hpo_ray.report.writer

    monkeypatch.setattr(hpo_ray.report.writer, "write_report", broken)
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError" in err
    assert "internal error (a bug in hpo_ray" in err.strip().splitlines()[-1]


def test_overrides_may_follow_the_flags(tmp_path, capsys):
    """`hpo-ray search CFG --no-refit key=value`: the override is read, not refused."""
    config = tmp_path / "exp.yaml"
    config.write_text("run: {}\n")
    assert main(["search", str(config), "--no-refit", "search.num_samples=0"]) == 2
    assert "search.num_samples=0 must be >= 1" in capsys.readouterr().err
