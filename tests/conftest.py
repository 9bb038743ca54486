"""Shared fixtures: the two shipped guidance versions, a CLI runner, golden files,
the z3 work that many tests read (lint findings and the 2023 -> 2024 diff of the
shipped files), hypothesis profiles, and how tests are shared among workers.

Golden files live in tests/golden/. To accept new output after a deliberate
change, run `UPDATE_GOLDEN=1 python -m pytest` and review the diff in git.

`make test` runs the suite on every core with pytest-xdist (`-n auto --dist
loadgroup`). Each worker is a process of its own: a session fixture is computed
once per worker, and a module that keeps an expensive module fixture (a
language server, an installed wheel) is kept on one worker (`SHARED_FIXTURES`).
Tests write only under their tmp_path; golden files are written only with
UPDATE_GOLDEN=1.

Hypothesis reads its profile from HYPOTHESIS_PROFILE: `dev` (the default) and
`ci` (when CI is set: the same budget, derandomized, no example database) are
brief; `fuzz` (`make fuzz`) is long.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from evaluator import load_criteria
from evaluator.cli import main

# The tests keep compiled criteria in a cache of their own, not the user's (evaluator/cache.py); child
# processes (the CLI, the service) inherit it.
os.environ.setdefault("IRMER_CACHE_DIR", str(Path(tempfile.gettempdir()) / "irmer-test-cache"))

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
# The source texts of the guidance: ../shared/guidance beside the project (as in CI),
# or wherever IRMER_GUIDANCE_DIR points.
GUIDANCE = Path(os.environ.get("IRMER_GUIDANCE_DIR") or ROOT.parent / "shared" / "guidance")


# ------------------------------------------------------------------ hypothesis profiles

# No deadline anywhere: a test's examples run beside other workers on a busy machine, and a
# per-example deadline would make the suite flaky. The fuzz tests bound time themselves, in a
# child process they can stop (tests/fuzz/sandbox.py).
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large]
# The brief profiles draw 50 examples a test: `make test` runs some fifty property and fuzz tests, and the
# long profile (`make fuzz`) is where the search goes deep.
BRIEF = 50
settings.register_profile("dev", max_examples=BRIEF, deadline=None, suppress_health_check=_SLOW_IS_FINE)
settings.register_profile("ci", max_examples=BRIEF, deadline=None, suppress_health_check=_SLOW_IS_FINE,
                          derandomize=True, database=None, print_blob=True)
settings.register_profile("fuzz", max_examples=4000, deadline=None, suppress_health_check=_SLOW_IS_FINE,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


# ------------------------------------------------------------------ sharing among workers

# Modules whose module-scoped fixture is expensive enough that every worker building its own
# copy would cost more than running the module on one worker: under `--dist loadgroup` each group
# runs on one worker (the groups mean nothing without xdist).
SHARED_FIXTURES = {
    "test_lsp.py": "lsp-server",                    # one language server process, its documents open
    "test_language_server.py": "lsp-fuzz-server",   # the fuzz suite's language server
    "test_packaging.py": "installed-wheel",         # a wheel built and installed in a fresh venv
    "test_spark.py": "spark",                       # one Spark session (a JVM) and its evaluated table
}


def xdist_scope(nodeid: str) -> str | None:
    """The group a test runs in (None: a unit of its own), from its module's file name.

    >>> xdist_scope("tests/test_spark.py::test_spark_agrees_with_python"), xdist_scope("tests/test_cli.py::test_x")
    ('spark', None)
    """
    return SHARED_FIXTURES.get(nodeid.split("::", 1)[0].rsplit("/", 1)[-1])


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks to name the groups
def pytest_collection_modifyitems(items):
    for item in items:
        group = SHARED_FIXTURES.get(item.path.name)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """loadgroup's scheduler, grouping by SHARED_FIXTURES itself.

    pytest-xdist (3.8) names a test's group by appending `@group` to `item._nodeid`, which
    pytest 9.2 no longer reads (a node's id is `item._id`): every test became a group of its
    own, and each worker started its own Spark session and language server. The scheduler
    runs in the controlling process, which sees only node ids, so it reads the group from the
    module's file name (a suffix, where xdist still adds one, is honoured too).
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid) or super()._split_scope(nodeid)

    return ModuleGroups(config, log)


@pytest.fixture(scope="session")
def g2023():
    return load_criteria("2023")


@pytest.fixture(scope="session")
def g2024():
    return load_criteria("2024")


@pytest.fixture(params=["2023", "2024"], scope="session")
def guidance(request):
    """Each shipped version in turn."""
    return load_criteria(request.param)


@pytest.fixture(scope="session")
def shipped_lint(g2023, g2024):
    """lint's findings for each shipped file, by version: z3 work many tests read, done once per worker."""
    from evaluator.tools.lint import lint
    return {guidance.version: lint(guidance) for guidance in (g2023, g2024)}


@pytest.fixture(scope="session")
def diff_2023_2024(g2023, g2024):
    """The diff report from the 2023 to the 2024 guidance, computed once per worker."""
    from evaluator.tools.diff import diff
    return diff(g2023, g2024)


def explained(guidance, incident):
    """Evaluate an incident with both engines; return the explaining engine's result.

    Tests read the explanation, which the interpreter gives (`Guidance.interpret`);
    the compiled engine, which `Guidance.evaluate` uses, must give the same
    result but for the explanation, and with ``explain=True`` the same result
    and explanation. So every table-driven test is also a differential test of
    the two engines.
    """
    result = guidance.interpret(incident)
    fast = guidance.evaluate(incident)
    assert fast == result.model_copy(update={"explanation": []}), (
        f"the engines disagree on {incident}:\ncompiled:    {fast}\ninterpreter: {result}")
    assert guidance.evaluate(incident, explain=True) == result
    return result


def evaluate(guidance, **facts):
    """Evaluate an incident given as keyword arguments, with both engines (see `explained`)."""
    return explained(guidance, facts)


@pytest.fixture
def cli():
    """Run `irmer` in-process: cli("evaluate", "file.json") -> click Result (stdout, stderr, exit_code)."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)
    return run


def check_golden(name: str, text: str) -> None:
    """Compare text with tests/golden/<name>; with UPDATE_GOLDEN=1, write it instead."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}: run UPDATE_GOLDEN=1 python -m pytest to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"output differs from {path} (UPDATE_GOLDEN=1 to accept a deliberate change)"
