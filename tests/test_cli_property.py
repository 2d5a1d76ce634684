"""The CLI's boundary, structurally: generated programs × options × values × formats × routes, run
as a user would, never end in an internal error, a traceback, a hang, an exit code outside 0/1/2,
a failure without a message, or a stderr line gradcli did not write; and the traced (json) and
untraced (plain) paths give the same f, gradients and warnings. The cases come from
tests/clicases.py (which says what they cover); tests/test_fuzz.py mutates near-valid text.

Budget: 300 cases in CI (reproducible, a few seconds); GRADCLI_CLI_CASES=N runs N, and
GRADCLI_HYPOTHESIS=deep runs 20,000 with a random seed. With GRADCLI_CLI_REPORT=FILE the number of
cases run is written there as JSON. Hypothesis stops at the first failure; to count every kind of
failure in a long run, use the campaign driver:
    nice -n 10 .venv/bin/python tests/clicases.py --cases 20000 --seed 1 --report campaign.json
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from clicases import Case, generate, run  # noqa: E402

CASES = int(os.environ.get("GRADCLI_CLI_CASES") or (20000 if os.environ.get("GRADCLI_HYPOTHESIS") == "deep" else 300))
COUNT = {"cases": 0, "by_command": {}}


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(f"\ntest_cli_property: {COUNT['cases']} generated cases run", file=sys.stderr)
    if os.environ.get("GRADCLI_CLI_REPORT"):
        Path(os.environ["GRADCLI_CLI_REPORT"]).write_text(json.dumps(COUNT) + "\n")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("cli_cases")


def _check(case: Case, where: Path) -> None:
    outcome = run(case, where)
    COUNT["cases"] += 1
    COUNT["by_command"][case.args[0]] = COUNT["by_command"].get(case.args[0], 0) + 1
    if outcome.problems:
        pytest.fail("\n".join([f"{p.kind}\n  {p.detail}" for p in outcome.problems] + ["reproduce:", case.shell()]),
                    pytrace=False)


# No Hypothesis deadline: the hang guard in clicases.invoke stops a run after 10 s and reports a
# hang, while a deadline would only flag a slow run after the fact (and flakily, on a busy machine).
@settings(max_examples=CASES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False))
def test_generated_command_lines_end_in_gradclis_own_words(folder, rng):
    _check(generate(rng), folder / f"case{COUNT['cases'] % 4}")


# One of each kind of case, from a fixed seed, so that a plain `pytest -k` run covers every route
# even if Hypothesis's choices drift between versions.
@pytest.mark.parametrize("seed", range(12))
def test_seeded_command_lines(folder, seed):
    rng = random.Random(f"seeded:{seed}")
    _check(generate(rng), folder / f"seeded{seed}")
