"""The on-disk cache (evaluator/cache.py): entries keyed by their inputs, damaged ones worked out again."""

from __future__ import annotations

import pickle

import pytest

from evaluator import cache


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("IRMER_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_an_entry_is_kept_and_read_back(folder):
    calls = []
    first = cache.remember("t", [b"a"], lambda: calls.append(1) or {"v": 1})
    second = cache.remember("t", [b"a"], lambda: calls.append(1) or {"v": 2})
    assert first == second == {"v": 1} and calls == [1]
    assert len(list(folder.glob("t-*.pickle"))) == 1


def test_other_inputs_are_another_entry(folder):
    assert cache.remember("t", [b"a"], lambda: 1) == 1
    assert cache.remember("t", [b"b"], lambda: 2) == 2
    assert cache.remember("t", [b"a", b""], lambda: 3) == 3  # the inputs' boundaries count
    assert cache.remember("t", [b"", b"a"], lambda: 4) == 4


def test_a_damaged_entry_is_worked_out_again(folder):
    cache.remember("t", [b"a"], lambda: 1)
    (entry,) = folder.glob("t-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert cache.remember("t", [b"a"], lambda: 2) == 2
    assert pickle.loads(entry.read_bytes()) == 2


def test_off_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("IRMER_CACHE_DIR", "off")
    assert cache.directory() is None
    assert cache.remember("t", [b"a"], lambda: 5) == 5
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_written_is_no_error(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder would be")
    monkeypatch.setenv("IRMER_CACHE_DIR", str(blocked / "cache"))
    assert cache.remember("t", [b"a"], lambda: 6) == 6


def test_the_oldest_entries_go(folder, monkeypatch):
    monkeypatch.setattr(cache, "KEEP", 8)
    for n in range(20):
        cache.remember("t", [str(n).encode()], lambda: n)
    assert len(list(folder.glob("*.pickle"))) <= 8
