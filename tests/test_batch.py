"""`irmer evaluate` on batches: every input line gets one result, in order, whatever the others hold.

Issue 7, items 2 and 4: one bad line used to lose the whole batch (a line of
nested brackets, a 5,000-digit integer, a lone surrogate in an id), stdin
accepted what a file refused, a byte-order mark was refused, and a raw U+2028
inside a string split a line in two. And issue 8: results are streamed, in
input order, with or without worker processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

GOOD = {"jurisdiction": "Wales", "exposure": "accidental"}


def line(**fields) -> bytes:
    return json.dumps({**GOOD, **fields}, ensure_ascii=False).encode("utf-8")


def run(data: bytes, *args: str, stdin: bool = True, tmp_path: Path | None = None) -> subprocess.CompletedProcess:
    """The installed command, as a user runs it: bytes in, bytes out."""
    command = [sys.executable, "-m", "evaluator.cli", "evaluate", "--format", "json", "--criteria", "2024", *args]
    if stdin:
        return subprocess.run(command + ["-"], input=data, capture_output=True, timeout=120, cwd=ROOT)
    path = tmp_path / "incidents.jsonl"
    path.write_bytes(data)
    return subprocess.run(command + [str(path)], capture_output=True, timeout=120, cwd=ROOT)


def outputs(process: subprocess.CompletedProcess) -> list[dict]:
    assert process.stderr == b"", process.stderr.decode("utf-8", "replace")
    return [json.loads(text) for text in process.stdout.decode("utf-8").splitlines()]


HOSTILE_LINES = [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested too deeply", id="100000-nested-brackets"),
    pytest.param(b'{"id": "big", "individuals": ' + b"9" * 5000 + b"}", "individuals", id="5000-digit-integer"),
    pytest.param(b'{"id": "dup", "total_dose": "3 mSv", "total_dose": "30 mSv"}', "given twice", id="duplicate-key"),
    pytest.param(b'{"id": "deep", "theme": {"site": {"ward": "A", "ward": "B"}}}', "given twice", id="duplicate-key-deep"),
    pytest.param(b'{"id": "bad-utf8", "jurisdiction": "Wal\xffes"}', "not valid UTF-8", id="invalid-utf8"),
    pytest.param(b'{"id": "x", ' + b'"description": "' + b"a" * 1_100_000 + b'"}', "longer than", id="2-MB-line"),
    pytest.param(b"not json at all", "not valid JSON", id="not-json"),
]


@pytest.mark.parametrize("bad, words", HOSTILE_LINES)
@pytest.mark.parametrize("stdin", [True, False], ids=["stdin", "file"])
def test_a_bad_line_gets_an_error_and_the_batch_goes_on(tmp_path, bad, words, stdin):
    data = b"\n".join([line(id="before"), bad, line(id="after")]) + b"\n"
    process = run(data, stdin=stdin, tmp_path=tmp_path)
    assert process.returncode == 1  # some incident could not be read: not 2, the batch ran
    before, middle, after = outputs(process)
    assert (before["id"], before["codes"]) == ("before", ["1"])
    assert (after["id"], after["codes"]) == ("after", ["1"])
    assert middle["error"] is not None and words in json.dumps(middle["error"]), middle["error"]


@pytest.mark.parametrize("bad, ident", [
    (b'{"id": "dup", "total_dose": "3 mSv", "total_dose": "30 mSv"}', "dup"),
    (b'{"id": "deep", "theme": {"site": {"ward": "A", "ward": "B"}}}', "deep"),
    (b'{"theme": {"id": "inner", "x": 1, "x": 2}, "id": "outer"}', "outer"),
    (b'{"id": 42, "age": 40, "age": 41}', "42"),
    (b'{"id": "first", "id": "second"}', None),  # which id was meant cannot be told either
])
def test_an_incident_with_a_key_given_twice_keeps_its_id(tmp_path, bad, ident):
    """The error names the key; the result keeps the incident's id when the incident gives it once, so a
    system can match the refusal to its record."""
    process = run(bad + b"\n" + line(id="after") + b"\n", stdin=True, tmp_path=tmp_path)
    assert process.returncode == 1
    result, after = outputs(process)
    assert after["id"] == "after"
    assert "given twice" in result["error"]["message"] and result["id"] == ident


@pytest.mark.parametrize("first", [b"not json", b"{broken"], ids=["not-json", "broken"])
@pytest.mark.parametrize("stdin", [True, False], ids=["stdin", "file"])
def test_bad_first_lines_then_a_line_too_long_are_each_a_result(tmp_path, first, stdin):
    """Before the first good line, the reader cannot yet tell JSON Lines from one value written over
    several lines; a line over the size limit cannot belong to such a value, so it is a line too."""
    long = b'{"id": "x", "description": "' + b"a" * 1_100_000 + b'"}'
    data = b"\n".join([first, long, line(id="after")]) + b"\n"
    process = run(data, stdin=stdin, tmp_path=tmp_path)
    assert process.returncode == 1
    bad, too_long, after = outputs(process)
    assert "not valid JSON" in json.dumps(bad["error"])
    assert "line 2 is longer than" in json.dumps(too_long["error"]), too_long["error"]
    assert (after["id"], after["codes"]) == ("after", ["1"])


@pytest.mark.parametrize("first", [b"[" * 950 + b"]" * 950, b"[" * 100_000 + b"]" * 100_000],
                         ids=["950-deep", "100000-deep"])
def test_a_first_line_of_brackets_too_deep_is_one_line_not_an_array(first):
    """A first line that closes every bracket it opens is a value on its own (one too deep to read), not
    the start of an array written over several lines: the lines after it are JSON Lines."""
    process = run(first + b"\n" + line(id="after") + b"\n")
    assert process.returncode == 1
    bad, after = outputs(process)
    assert bad["error"] is not None  # nested too deeply, or an array where an incident is an object
    assert (after["id"], after["codes"]) == ("after", ["1"])


def test_a_lone_surrogate_in_an_id_is_written_as_its_escape():
    """A lone surrogate is not a character: an id holding one is carried as its escape (docs/incidents.md)."""
    data = b"\n".join([line(id="a"), b'{"id": "\\ud800", "jurisdiction": "Wales", "exposure": "accidental"}',
                       line(id="c")]) + b"\n"
    process = run(data)
    assert process.returncode == 0
    results = outputs(process)
    assert [r["id"] for r in results] == ["a", "\\ud800", "c"]  # the escape, as text: writable anywhere


def test_a_byte_order_mark_is_skipped():
    process = run(b"\xef\xbb\xbf" + line(id="a") + b"\n" + line(id="b") + b"\n")
    assert [r["id"] for r in outputs(process)] == ["a", "b"]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0c", "\x1c"])
def test_unicode_line_separators_inside_strings_do_not_split_lines(separator):
    lines = [line(id=f"I{i}", description=f"one{separator}two") for i in range(4)]
    results = outputs(run(b"\n".join(lines) + b"\n"))
    assert [r["id"] for r in results] == ["I0", "I1", "I2", "I3"]


def test_workers_give_the_same_results_in_the_same_order():
    lines = []
    for i in range(600):
        dose = f"{i % 7}.{i % 10} mSv"
        lines.append(json.dumps({"id": f"W{i}", "jurisdiction": "England", "exposure": "accidental",
                                 "total_dose": dose, **({"age": i % 90} if i % 3 else {})}).encode())
        if i % 97 == 0:
            lines.append(b"{broken")
    data = b"\n".join(lines) + b"\n"
    one, two = run(data), run(data, "--workers", "2")
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) == len(lines)


def test_an_array_is_streamed_and_stays_an_array():
    items = [{"id": f"A{i}", **GOOD} for i in range(50)]
    process = run(json.dumps(items, indent=1).encode())
    document = json.loads(process.stdout)
    assert [r["id"] for r in document] == [i["id"] for i in items]


def test_results_come_as_incidents_are_piped_in():
    """One incident in, one result out, before the next incident is written: a stream, not a batch.

    (--lines: without it, the first line waits for the next, which tells whether the input is one
    object or JSON Lines.)"""
    command = [sys.executable, "-m", "evaluator.cli", "evaluate", "--lines", "--format", "json", "--criteria",
               "2024", "-"]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
                               env={**os.environ, "PYTHONUNBUFFERED": "0"})
    try:
        for index in range(3):
            process.stdin.write(line(id=f"P{index}") + b"\n")
            process.stdin.flush()
            answer = json.loads(process.stdout.readline())
            assert answer["id"] == f"P{index}"
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0
