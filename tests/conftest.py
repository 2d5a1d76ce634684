"""Shared helpers: the CLI runner, central finite differences."""

from __future__ import annotations

import json

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

import gradcli
from gradcli.commands.cli import app


def _check_no_traceback(result) -> None:
    """A user never sees a Python traceback, and the command never dies of an exception."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"the command raised {type(result.exception).__name__}: {result.exception}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        ) from result.exception
    assert "Traceback" not in result.stdout
    assert "Traceback" not in result.stderr

# Hypothesis: a quick, reproducible profile by default (CI); GRADCLI_HYPOTHESIS=deep for a long run.
settings.register_profile("ci", max_examples=150, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("deep", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.load_profile(os.environ.get("GRADCLI_HYPOTHESIS", "ci"))


@pytest.fixture(scope="session")
def cli():
    """cli("eval", "x*y", "--set", "x=1", ...) -> click Result with .exit_code, .stdout, .stderr.

    Click >= 8.2 always keeps stderr apart from stdout in its CliRunner.
    """
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(app, list(args))
        _check_no_traceback(result)
        return result

    return run


@pytest.fixture(scope="session")
def cli_json(cli):
    """Run `eval ... --format json`, check exit 0, return the parsed document."""

    def run(*args: str) -> dict:
        result = cli(*args, "--format", "json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    return run


def numeric_gradients(source: str, values: dict, h: float = 1e-6) -> dict:
    """∂f/∂v of sum(f) for every variable by central differences, one element at a time."""
    graph = gradcli.parse(source)
    base = {k: np.array(v, dtype=np.float64) for k, v in values.items()}
    out = {}
    for name, array in base.items():
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            plus = {k: v.copy() for k, v in base.items()}
            minus = {k: v.copy() for k, v in base.items()}
            plus[name][index] += h
            minus[name][index] -= h
            f_plus = np.sum(graph.evaluate(plus).value)
            f_minus = np.sum(graph.evaluate(minus).value)
            grad[index] = (f_plus - f_minus) / (2 * h)
        out[name] = float(grad) if array.shape == () else grad
    return out
