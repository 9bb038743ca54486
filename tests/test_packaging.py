"""The wheel carries the grammar and the criteria, and the installed `irmer` works anywhere.

Builds a wheel of the project with pip, installs it into a fresh virtual
environment (its dependencies come from the package index) and runs the
installed command from a folder that holds no checkout. This takes some
seconds (pip's cache helps); it is part of the normal suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT
from evaluator.cli import main

PACKAGED = [
    "evaluator/grammar/irmer.lark",
    "evaluator/criteria/irmer-2024-08-28.irmer",
    "evaluator/criteria/irmer-2023-04-19.irmer",
    "evaluator/criteria/incident-vocabulary.irmer",
    "evaluator/language/units.txt",
    "evaluator/cli.py",
    "evaluator/pages/templates/base.html",
    "evaluator/pages/templates/macros.html",
    "evaluator/pages/templates/criteria.html",
    "evaluator/pages/templates/diff.html",
    "evaluator/pages/static/style.css",
]


def run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    # (Bytecode is written as modules are first imported: the wheel is installed without compiling.)
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def ok(process: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert process.returncode == 0, f"{process.args} failed:\n{process.stdout}\n{process.stderr}"
    return process


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    ok(run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)], cwd=out))
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its bin folder."""
    venv = tmp_path_factory.mktemp("venv")
    ok(run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv))
    bin_dir = venv / "bin"
    # The checkout's pip installs into it (--python): no pip of its own to set up, and no bytecode
    # compiled ahead for every dependency (a third of the time); what runs is the same.
    ok(run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "--quiet",
            "--disable-pip-version-check", "--no-compile", str(wheel)], cwd=venv))
    return bin_dir


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """A working folder far from the checkout, with an incident file in it."""
    assert not (tmp_path / "criteria").exists() and not (tmp_path / "grammar").exists()
    (tmp_path / "incidents.json").write_text((ROOT / "examples" / "incidents.json").read_text(encoding="utf-8"),
                                             encoding="utf-8")
    return tmp_path


def test_wheel_contains_grammar_and_criteria(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in PACKAGED if name not in names]
    assert not missing, f"{wheel.name} lacks {missing}"
    entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
    assert "irmer = evaluator.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_package_is_not_the_checkout(installed, elsewhere):
    process = ok(run([str(installed / "python"), "-c",
                      "import evaluator.resources as r; print(r.grammar_path()); print(r.criteria_dir())"],
                     cwd=elsewhere))
    grammar, criteria = process.stdout.splitlines()
    venv = installed.parent.resolve()
    assert Path(grammar).resolve().is_relative_to(venv), grammar
    assert Path(criteria).resolve().is_relative_to(venv), criteria


def test_installed_check(installed, elsewhere):
    process = ok(run([str(installed / "irmer"), "check"], cwd=elsewhere))
    lines = process.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("ok ") for line in lines)
    assert "irmer-2023-04-19, 20 rows" in lines[0] and "irmer-2024-08-28, 20 rows" in lines[1]
    assert "Traceback" not in process.stderr


def test_installed_test(installed, elsewhere):
    process = ok(run([str(installed / "irmer"), "test"], cwd=elsewhere))
    counts = re.findall(r"^(\d+)/(\d+) examples pass in \S+ \((irmer-[\d-]+)\)$", process.stdout, flags=re.MULTILINE)
    assert [version for _, _, version in counts] == ["irmer-2023-04-19", "irmer-2024-08-28"]
    for passed, total, _ in counts:
        assert passed == total and int(total) > 0
    assert "Traceback" not in process.stderr


def test_installed_evaluate(installed, elsewhere):
    process = ok(run([str(installed / "irmer"), "evaluate", "--format", "json", "incidents.json"], cwd=elsewhere))
    results = json.loads(process.stdout)
    assert [r["id"] for r in results] == ["CT-0193", "NM-0021", "RT-0310", "IR-0007", "XR-0448", "NMT-0003",
                                          "CT-0207"]
    assert [r["codes"] for r in results][:4] == [["1"], ["7"], ["4.2b"], ["3"]]
    # the installed command gives exactly what the checkout gives
    here = CliRunner().invoke(main, ["evaluate", "--format", "json", str(ROOT / "examples" / "incidents.json")],
                              catch_exceptions=False)
    assert process.stdout == here.stdout


def test_installed_versions(installed, elsewhere):
    process = ok(run([str(installed / "irmer"), "versions"], cwd=elsewhere))
    assert [line.split()[0] for line in process.stdout.splitlines()] == ["irmer-2023-04-19", "irmer-2024-08-28"]


def test_installed_diff(installed, elsewhere):
    process = run([str(installed / "irmer"), "diff", "2023", "2024", "--format", "json",
                   "--incidents", "incidents.json"], cwd=elsewhere)
    assert process.returncode == 1, process.stderr  # some incidents flip between the versions
    report = json.loads(process.stdout)
    verdicts = {c["code"]: c["verdict"] for c in report["codes"]}
    assert verdicts["3"] == "broadened" and verdicts["7"] == "equivalent"
    assert report["population"]["rows"] == 7
    html_page = run([str(installed / "irmer"), "diff", "2023", "2024", "-f", "html", "-o", "diff.html"], cwd=elsewhere)
    assert html_page.returncode == 1 and (elsewhere / "diff.html").read_text(encoding="utf-8").lower().startswith("<!doctype html>")
