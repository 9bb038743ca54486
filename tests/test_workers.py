"""How `make test` shares the suite among pytest-xdist workers (tests/conftest.py).

A module that keeps an expensive module fixture (a Spark session, a language
server, an installed wheel) must run on one worker, or each worker pays for its
own copy: the scheduler is driven here with the node ids workers send, as pytest
gives them, and two stand-in workers.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import SHARED_FIXTURES, pytest_xdist_make_scheduler

pytest.importorskip("xdist")
from xdist.remote import Producer

QUIET = Producer("test", enabled=False)


class Worker:
    """What the scheduler needs of a worker: it is sent indices into its collection, or shut down."""

    def __init__(self, name: str):
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[list[int]] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.append(list(indices))

    def shutdown(self) -> None:
        self.shutting_down = True


def scheduled(collection: list[str]) -> dict[str, list[list[str]]]:
    """The batches of node ids each of two workers is sent first, by worker."""
    values = {"dist": "loadgroup", "tx": ["2*popen"]}
    config = SimpleNamespace(getvalue=values.get, option=SimpleNamespace(loadscopereorder=True))
    scheduler = pytest_xdist_make_scheduler(config, QUIET)
    workers = [Worker("gw0"), Worker("gw1")]
    for worker in workers:
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()
    return {w.gateway.id: [[collection[i] for i in batch] for batch in w.sent] for w in workers}


def test_a_shared_module_runs_on_one_worker_in_one_batch():
    spark = [f"tests/test_spark.py::test_{n}" for n in range(3)]
    lsp = [f"tests/test_lsp.py::test_{n}" for n in range(4)]
    others = [f"tests/test_cli.py::test_{n}" for n in range(6)] + ["evaluator/load.py::evaluator.load"]
    batches = scheduled(others[:3] + spark + others[3:] + lsp)
    sent = [batch for worker in batches.values() for batch in worker]
    assert sorted(spark) in [sorted(b) for b in sent]  # the whole module in one batch: one worker
    assert sorted(lsp) in [sorted(b) for b in sent]
    assert sum(map(len, sent)) == len(spark) + len(lsp) + sum(1 for b in sent for n in b if n in others)
    assert all(len(b) == 1 for b in sent if b[0] in others)  # any other test goes wherever a worker is free


def test_the_largest_group_goes_first():
    lsp = [f"tests/test_lsp.py::test_{n}" for n in range(4)]
    wheel = [f"tests/test_packaging.py::test_{n}" for n in range(2)]
    batches = scheduled(["tests/test_cli.py::test_0"] + wheel + lsp)
    assert batches["gw0"][0] == lsp and batches["gw1"][0] == wheel


def test_without_loadgroup_xdist_chooses():
    config = SimpleNamespace(getvalue={"dist": "load"}.get)
    assert pytest_xdist_make_scheduler(config, QUIET) is None


def test_the_groups_name_modules_that_exist():
    from pathlib import Path
    here = Path(__file__).parent
    assert {path.name for path in here.rglob("test_*.py")} >= set(SHARED_FIXTURES)
