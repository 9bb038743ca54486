"""The language server (`irmer lsp`), over its real protocol and in-process.

The protocol tests start `python -m evaluator.cli lsp` and speak JSON-RPC 2.0
to it with Content-Length framing, as an editor does, with a small client
written here. Every wait has a time limit, so a server that hangs fails the
test instead of blocking it.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types as pytypes
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from evaluator.tools.lint import Finding

from evaluator.language.diagnostics import Span
from evaluator.lsp import analyse, classify, lint_diagnostics, token_at
from evaluator.resources import criteria_dir

from conftest import ROOT

TIMEOUT = 30.0  # seconds for any one answer; a check takes well under one
DELAY_FOR_CHECKS = 1.0  # seconds: longer than the server waits before a check (evaluator/lsp.py DELAY)
CRITERIA = ROOT / "criteria" / "irmer-2024-08-28.irmer"
VOCABULARY = ROOT / "criteria" / "incident-vocabulary.irmer"
VALID = CRITERIA.read_text(encoding="utf-8")
BAD_LINE = "    when     foetal_dose >= 10 mGy"
assert VALID.count(BAD_LINE) == 1
BROKEN = VALID.replace(BAD_LINE, "    when     foetal_dose >= 10 mSv")
LINES = VALID.split("\n")


def line_of(text: str, lines: list[str] = LINES) -> int:
    """The 0-based number of the only line that is `text` (stripped)."""
    found = [i for i, line in enumerate(lines) if line.strip() == text]
    assert len(found) == 1, f"{text!r}: {found}"
    return found[0]


def path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path)).resolve()


# ---------------------------------------------------------------------- a tiny LSP client

class Client:
    """Speaks JSON-RPC to a server process: requests, notifications, and what the server sends."""

    def __init__(self, cwd: Path):
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen([sys.executable, "-m", "evaluator.cli", "lsp"], cwd=cwd,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        self.inbox: queue.Queue = queue.Queue()
        self.stash: list[dict] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        try:
            while True:
                headers = {}
                while True:
                    line = stream.readline()
                    if not line:
                        self.inbox.put(None)
                        return
                    line = line.strip()
                    if not line:
                        break
                    key, _, value = line.decode("ascii").partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = stream.read(int(headers["content-length"]))
                self.inbox.put(json.loads(body.decode("utf-8")))
        except Exception as error:  # pragma: no cover - shown by the waiting test
            self.inbox.put({"client_error": repr(error)})

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: dict | None = None) -> None:
        self.send({"method": method, "params": params or {}})

    def answer(self, message: dict | bytes, ident: int | str | None, timeout: float = TIMEOUT) -> dict:
        """Send a message as it is (a dict, or raw bytes for the body) and wait for the answer with this id."""
        body = message if isinstance(message, bytes) else json.dumps(message).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()
        return self.wait(lambda m: "method" not in m and m.get("id", "none") == ident, timeout, f"an answer to {body!r}")

    def request(self, method: str, params: dict | None = None, timeout: float = TIMEOUT):
        self.next_id += 1
        ident = self.next_id
        self.send({"id": ident, "method": method, "params": params or {}})
        answer = self.wait(lambda m: m.get("id") == ident and "method" not in m, timeout, f"the answer to {method}")
        assert "error" not in answer, answer["error"]
        return answer.get("result")

    def wait(self, predicate, timeout: float = TIMEOUT, what: str = "a message") -> dict:
        for message in self.stash:
            if predicate(message):
                self.stash.remove(message)
                return message
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no {what} within {timeout} s; server stderr:\n{self.server_stderr()}")
            try:
                message = self.inbox.get(timeout=remaining)
            except queue.Empty:
                continue
            if message is None:
                pytest.fail(f"the server closed its output while we waited for {what}:\n{self.server_stderr()}")
            assert "client_error" not in message, message
            if "method" in message and "id" in message:  # a request from the server: answer it
                self.send({"id": message["id"], "result": None})
                continue
            if predicate(message):
                return message
            self.stash.append(message)

    def diagnostics(self, uri: str, predicate=lambda diagnostics: True, what: str = "diagnostics") -> list[dict]:
        message = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                            and m["params"]["uri"] == uri and predicate(m["params"]["diagnostics"]),
                            what=f"{what} for {uri}")
        return message["params"]["diagnostics"]

    def forget(self, uri: str) -> None:
        """Drop what the server has sent about a document so far."""
        self.stash = [m for m in self.stash if m.get("params", {}).get("uri") != uri]

    def initialize(self, root: Path) -> dict:
        result = self.request("initialize", {
            "processId": None, "rootUri": root.as_uri(), "capabilities": {
                "textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]},
                                 "publishDiagnostics": {"relatedInformation": True}}}})
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "irmer", "version": 1,
                                                              "text": text}})
        return uri

    def change(self, uri: str, version: int, text: str) -> None:
        self.forget(uri)
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                               "contentChanges": [{"text": text}]})

    def hover(self, uri: str, line: int, character: int):
        return self.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                   "position": {"line": line, "character": character}})

    def definition(self, uri: str, line: int, character: int):
        return self.request("textDocument/definition", {"textDocument": {"uri": uri},
                                                        "position": {"line": line, "character": character}})

    def server_stderr(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-4000:]

    def close(self) -> int | None:
        """Ask the server to shut down and exit; kill it if it does not. Its exit status."""
        try:
            if self.process.poll() is None:
                self.request("shutdown", timeout=10)
                self.notify("exit")
            return self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
            self.process.wait(timeout=10)
            return None
        finally:
            self.stderr.close()


def compile_diagnostics(diagnostics: list[dict]) -> list[dict]:
    """The diagnostics of `irmer check` (lint's carry the rule as their code)."""
    return [d for d in diagnostics if "code" not in d or d["code"] is None]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A draft folder with the vocabulary beside the criteria, as an author's checkout has."""
    folder = tmp_path_factory.mktemp("drafts")
    shutil.copy(VOCABULARY, folder / VOCABULARY.name)
    return folder.resolve()


@pytest.fixture(scope="module")
def client(folder):
    client = Client(folder)
    client.initialize(folder)
    yield client
    client.close()


@pytest.fixture
def document(client, folder, request):
    """A valid copy of the 2024 criteria, open in the server, its first diagnostics received."""
    path = folder / f"{request.node.name}.irmer"
    path.write_text(VALID, encoding="utf-8")
    uri = client.open(path, VALID)
    assert compile_diagnostics(client.diagnostics(uri)) == []
    return uri


# ------------------------------------------------------------------------- the protocol

def test_initialize_advertises_the_features_and_exits_cleanly(folder):
    client = Client(folder)
    try:
        result = client.initialize(folder)
        capabilities = result["capabilities"]
        assert capabilities["hoverProvider"]
        assert capabilities["definitionProvider"]
        sync = capabilities["textDocumentSync"]
        assert sync["openClose"] and sync["change"] == 1  # full text on every change
        assert sync["save"]
        assert result["serverInfo"]["name"] == "irmer"
    finally:
        status = client.close()
    assert status == 0


def test_lint_findings_follow_the_check(client, folder):
    """With evaluator/tools/lint.py present, its findings come in a second message, the rule as their code."""
    pytest.importorskip("evaluator.tools.lint")
    text = VALID.replace("define adult\n", "define never_used\n  as always\n\ndefine adult\n")
    path = folder / "linted.irmer"
    path.write_text(text, encoding="utf-8")
    uri = client.open(path, text)
    line = line_of("define never_used", text.split("\n"))
    diagnostics = client.diagnostics(uri, lambda ds: any(d.get("code") and d["range"]["start"]["line"] == line
                                                         for d in ds), "lint's findings")
    assert compile_diagnostics(diagnostics) == []
    (finding,) = [d for d in diagnostics if d["range"]["start"]["line"] == line]
    assert finding["source"] == "irmer" and finding["severity"] in (1, 2)


def test_diagnostics_on_open_and_change(client, folder):
    path = folder / "draft.irmer"
    path.write_text(BROKEN, encoding="utf-8")
    uri = client.open(path, BROKEN)
    diagnostics = client.diagnostics(uri, lambda ds: len(ds) > 0, "the error")
    (error,) = diagnostics
    line = line_of("when     foetal_dose >= 10 mSv", BROKEN.split("\n"))
    assert error["range"] == {"start": {"line": line, "character": 28}, "end": {"line": line, "character": 34}}
    assert BROKEN.split("\n")[line][28:34] == "10 mSv"
    assert error["severity"] == 1
    assert error["source"] == "irmer"
    assert "cannot compare foetal_dose" in error["message"]
    assert "hint: foetal_dose is an absorbed dose" in error["message"]

    client.change(uri, 2, VALID)
    assert compile_diagnostics(client.diagnostics(uri)) == []


def test_syntax_error_and_hover_on_the_last_good_version(client, document):
    broken = VALID.replace("  row 4.2b\n", "  rw 4.2b\n")
    client.change(document, 2, broken)
    (error,) = client.diagnostics(document, lambda ds: len(ds) > 0, "the syntax error")
    line = line_of("row 4.2b")
    assert error["range"]["start"] == {"line": line, "character": 2}
    assert error["range"]["end"] == {"line": line, "character": 4}
    assert "did you mean `row`?" in error["message"]
    # The file does not parse, but hover still knows row 8.1 from the last version that did.
    line = line_of("and (criteria of 8.1 or criteria of 8.2)")
    hover = client.hover(document, line, LINES[line].index("8.1"))
    assert "Therapy over-exposure" in hover["contents"]["value"]
    # ... and go to definition reads the lines as they are now.
    (location,) = client.definition(document, line, LINES[line].index("8.1"))
    assert location["range"]["start"]["line"] == line_of("row 8.1")



def test_hover_on_a_file_that_never_parsed(client, folder):
    text = VALID.replace("  row 4.2b\n", "  rw 4.2b\n")
    uri = client.open(folder / "never-parsed.irmer", text)
    client.diagnostics(uri, lambda ds: len(ds) > 0, "the syntax error")
    line = line_of("as not child")
    value = client.hover(uri, line, LINES[line].index("child"))["contents"]["value"]
    assert "age < 16 years if jurisdiction is Scotland" in value  # read from the lines as written
    line = line_of("when     foetal_dose >= 10 mGy")
    assert "an absorbed dose" in client.hover(uri, line, LINES[line].index("foetal_dose"))["contents"]["value"]

def test_hover_over_a_row_code_shows_the_regulators_words(client, document):
    line = line_of("row 4.2b")
    hover = client.hover(document, line, LINES[line].index("4.2b") + 1)
    value = hover["contents"]["value"]
    assert hover["contents"]["kind"] == "markdown"
    assert "Radiotherapy treatment verification images" in value
    assert ("When the number of additional imaging exposures is 50% greater than intended over the course of "
            "treatment as a result of protocol failure.") in value
    assert hover["range"]["start"] == {"line": line, "character": LINES[line].index("4.2b")}


def test_hover_over_codes_in_lists(client, document):
    line = line_of("expect codes 4.2b")
    assert "protocol failure" in client.hover(document, line, LINES[line].index("4.2b"))["contents"]["value"]
    line = line_of("codes 2.1, 2.2, 2.3, 2.4, 4.1, M")
    value = client.hover(document, line, LINES[line].index("M"))["contents"]["value"]
    assert "Complementary code M" in value and "A theme has been identified" in value


def test_hover_over_a_fact_and_a_definition(client, document):
    line = line_of("when     foetal_dose >= 10 mGy")
    value = client.hover(document, line, LINES[line].index("foetal_dose") + 3)["contents"]["value"]
    assert "fact of the vocabulary" in value and "an absorbed dose" in value
    line = line_of("as not child")
    value = client.hover(document, line, LINES[line].index("child"))["contents"]["value"]
    assert "definition" in value and "age < 16 years if jurisdiction is Scotland" in value
    # Nothing to say about a keyword or about the regulator's words.
    assert client.hover(document, line, LINES[line].index("not")) is None
    line = line_of("row 4.2b") + 2
    assert client.hover(document, line, LINES[line].index('"') + 5) is None


def test_definition_of_a_fact_is_its_line_in_the_vocabulary_beside(client, document, folder):
    line = line_of("when     foetal_dose >= 10 mGy")
    (location,) = client.definition(document, line, LINES[line].index("foetal_dose"))
    assert path_of(location["uri"]) == folder / VOCABULARY.name
    vocabulary_lines = VOCABULARY.read_text(encoding="utf-8").split("\n")
    expected = next(i for i, text in enumerate(vocabulary_lines) if text.startswith("fact foetal_dose:"))
    assert location["range"] == {"start": {"line": expected, "character": 5},
                                 "end": {"line": expected, "character": 16}}


def test_definition_of_a_definition_and_of_a_code(client, document):
    line = line_of("as not child")
    (location,) = client.definition(document, line, LINES[line].index("child"))
    assert location["uri"] == document
    assert location["range"]["start"] == {"line": line_of("define child"), "character": 7}
    line = line_of("and (criteria of 8.1 or criteria of 8.2)")
    (location,) = client.definition(document, line, LINES[line].rindex("8.2"))
    assert location["range"]["start"]["line"] == line_of("row 8.2")
    line = line_of("as not child")  # a keyword has no definition
    assert not client.definition(document, line, LINES[line].index("not"))


def test_without_a_vocabulary_beside_the_shipped_one_is_used(client, tmp_path):
    path = tmp_path / "alone.irmer"
    path.write_text(VALID, encoding="utf-8")
    uri = client.open(path, VALID)
    diagnostics = client.diagnostics(uri)
    notes = [d for d in diagnostics if d["severity"] == 3]
    assert compile_diagnostics(diagnostics) == notes
    assert notes and "not beside the file" in notes[0]["message"]
    assert notes[0]["range"]["start"]["line"] == line_of('vocabulary  "incident-vocabulary.irmer"')
    line = line_of("when     foetal_dose >= 10 mGy")
    (location,) = client.definition(uri, line, LINES[line].index("foetal_dose"))
    assert path_of(location["uri"]) == (criteria_dir() / VOCABULARY.name).resolve()


def test_vocabulary_document(client, folder):
    text = VOCABULARY.read_text(encoding="utf-8")
    lines = text.split("\n")
    uri = (folder / VOCABULARY.name).as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "irmer", "version": 1,
                                                            "text": text}})
    assert client.diagnostics(uri) == []
    line = next(i for i, t in enumerate(lines) if t.startswith("fact age:"))
    value = client.hover(uri, line, 6)["contents"]["value"]
    assert "a duration" in value and "bare number means years" in value
    (location,) = client.definition(uri, line, 6)
    assert location["uri"] == uri and location["range"]["start"]["line"] == line
    broken = text.replace("fact age: duration", "fact age: durations")
    client.change(uri, 2, broken)
    (error,) = client.diagnostics(uri, lambda ds: len(ds) > 0)
    assert error["range"]["start"]["line"] == line


# Requests whose params cannot be read: each must be answered, never left waiting.
MISSING = object()
BAD_PARAMS = [
    pytest.param(MISSING, "required field missing @ $.params", id="no-params"),
    pytest.param(None, "expected HoverParams @ $.params", id="null"),
    pytest.param({}, "required field missing @ $.params.textDocument; required field missing @ $.params.position",
                 id="empty"),
    pytest.param([1, 2], "expected TextDocumentIdentifier @ $.params.textDocument", id="a-list"),
    pytest.param({"textDocument": {"uri": "file:///x.irmer"}, "position": {"line": 0, "character": "x"}},
                 "expected int @ $.params.position.character", id="a-string-for-a-number"),
    pytest.param({"textDocument": {"uri": "file:///x.irmer"}, "position": {"line": -1, "character": 0}},
                 "@ $.params.position", id="a-negative-line"),
]


@pytest.mark.parametrize("method", ["textDocument/hover", "textDocument/definition"], ids=["hover", "definition"])
@pytest.mark.parametrize("params, said", BAD_PARAMS)
def test_a_request_with_bad_params_is_answered_with_an_error(client, document, method, params, said):
    client.next_id += 1
    message = {"jsonrpc": "2.0", "id": client.next_id, "method": method}
    if params is not MISSING:
        message["params"] = params
    answer = client.answer(message, client.next_id, timeout=10)
    assert answer["error"]["code"] == -32602  # Invalid Params
    assert answer["error"]["message"].startswith(f"Invalid Params: {method}: ")
    assert said.replace("HoverParams", "DefinitionParams" if "definition" in method else "HoverParams") in \
        answer["error"]["message"]
    # ... and the server goes on answering.
    line = line_of("row 4.2b")
    assert "protocol failure" in client.hover(document, line, LINES[line].index("4.2b"))["contents"]["value"]


@pytest.mark.parametrize("body, ident, code", [
    pytest.param(b'{"id": 41, "method": "textDocument/hover"}', 41, -32600, id="not-json-rpc-2"),
    pytest.param(b'{"jsonrpc": "2.0", "id": 42, "method": "no/such/method", "params": {}}', 42, -32601,
                 id="unknown-method"),
    pytest.param(b'{"jsonrpc": "2.0", "id": 43, "method": "textDocument/hover", "params": {"textDocument": 5}}', 43,
                 -32602, id="params-of-the-wrong-kind"),
    pytest.param(b'{"jsonrpc": "2.0", "id": 44, "method": "textDocument/hover", "params": {"textDocum', None, -32700,
                 id="not-json"),
    pytest.param(b'[1, 2]', None, -32600, id="not-an-object"),
])
def test_every_message_that_asks_is_answered(client, body, ident, code):
    answer = client.answer(body, ident, timeout=10)
    assert answer["error"]["code"] == code, answer
    assert "id" in answer and answer["id"] == ident


def test_a_bad_notification_is_not_answered_and_changes_nothing(client, document):
    client.notify("textDocument/didOpen", {"textDocument": {"uri": 5}})
    client.notify("textDocument/didChange", {})
    line = line_of("row 4.2b")
    assert "protocol failure" in client.hover(document, line, LINES[line].index("4.2b"))["contents"]["value"]
    assert not [m for m in client.stash if "error" in m]


def test_hover_on_a_document_never_opened(client, folder):
    """A document the editor never opened is read from its file; with no file, there is nothing to say."""
    missing = (folder / "never-written.irmer").as_uri()
    assert client.hover(missing, 0, 0) is None
    assert client.definition(missing, 0, 0) is None
    assert client.hover("untitled:Untitled-7", 0, 0) is None
    on_disk = folder / "on-disk-only.irmer"
    on_disk.write_text(VALID, encoding="utf-8")
    line = line_of("row 4.2b")
    hover = client.hover(on_disk.as_uri(), line, LINES[line].index("4.2b"))
    assert "protocol failure" in hover["contents"]["value"]
    line = line_of("when     foetal_dose >= 10 mGy")
    (location,) = client.definition(on_disk.as_uri(), line, LINES[line].index("foetal_dose"))
    assert path_of(location["uri"]) == folder / VOCABULARY.name
    # Reading it did not open it: a save of the vocabulary checks open documents only.
    client.notify("textDocument/didSave", {"textDocument": {"uri": (folder / VOCABULARY.name).as_uri()}})
    time.sleep(DELAY_FOR_CHECKS)
    assert not [m for m in client.stash if m.get("params", {}).get("uri") == on_disk.as_uri()]


def test_a_request_after_shutdown_is_refused(folder):
    client = Client(folder)
    try:
        client.initialize(folder)
        assert client.request("shutdown", timeout=10) is None
        client.next_id += 1
        answer = client.answer({"jsonrpc": "2.0", "id": client.next_id, "method": "textDocument/hover",
                                "params": {"textDocument": {"uri": "file:///x.irmer"},
                                           "position": {"line": 0, "character": 0}}}, client.next_id, timeout=10)
        assert answer["error"]["code"] == -32600 and "after shutdown" in answer["error"]["message"]
        client.notify("exit")
        assert client.process.wait(timeout=10) == 0
    finally:
        client.close()


def test_close_clears_the_diagnostics(client, folder):
    path = folder / "closing.irmer"
    path.write_text(BROKEN, encoding="utf-8")
    uri = client.open(path, BROKEN)
    client.diagnostics(uri, lambda ds: len(ds) > 0)
    client.forget(uri)
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri) == []


# -------------------------------------------------------------------------- in-process



def test_lint_findings_are_published_unless_allowed(monkeypatch, g2024):
    """evaluator/tools/lint.py is loaded when the server lints; a stand-in shows what is published."""
    name = g2024.name
    line = line_of("row 4.2b")
    span = Span(file=name, line=line + 1, column=3, end_line=line + 1, end_column=11)
    findings = [
        Finding("band_gap", "error", "a gap", span, hint="close it", witness={"age": "17 years", "theme": True}),
        Finding("code_order", "warning", "out of order", None),
        Finding("band_edge", "warning", "accepted", span, allowed="the guidance says so"),
    ]
    fake = pytypes.ModuleType("evaluator.tools.lint")
    fake.lint = lambda guidance: findings
    monkeypatch.setitem(sys.modules, "evaluator.tools.lint", fake)
    diagnostics = lint_diagnostics(g2024, name, g2024.source.split("\n"))
    assert [d.code for d in diagnostics] == ["band_gap", "code_order"]
    gap, order = diagnostics
    assert gap.severity == 1 and order.severity == 2
    assert (gap.range.start.line, gap.range.start.character, gap.range.end.character) == (line, 2, 10)
    assert gap.message == "a gap\nhint: close it\nfor example: age 17 years, theme yes"
    assert gap.source == "irmer"


def test_without_the_lint_module_there_are_no_findings(monkeypatch, g2024):
    monkeypatch.setitem(sys.modules, "evaluator.tools.lint", None)  # import evaluator.tools.lint now fails
    assert lint_diagnostics(g2024, g2024.name, g2024.source.split("\n")) == []
    analysis = analyse(VALID, CRITERIA)
    assert analysis.guidance is not None and analysis.diagnostics == []


def test_positions_are_in_utf16_units():
    text = VALID.replace('  row 4.2b\n', '  row 4.2b\n    note "\U0001F600" oops\n')
    (error,) = analyse(text, CRITERIA, lint=False).diagnostics
    line = text.split("\n")[line_of("row 4.2b") + 1]
    assert error.range.start.character == line.index("oops") + 1  # the emoji is two UTF-16 units


def test_a_code_continues_on_the_next_line_of_a_list():
    lines = ["  codes 2.1, 2.2,", "        4.1, M  # the letters too"]
    token, context = token_at(lines, 1, 13)
    assert (token.text, classify(context, token)) == ("M", "code")
    token, context = token_at(lines, 1, 25)
    assert token is None  # in a comment



def test_saving_the_vocabulary_checks_the_criteria_beside_it(client, tmp_path):
    vocabulary = tmp_path / VOCABULARY.name
    shutil.copy(VOCABULARY, vocabulary)
    path = tmp_path / "beside.irmer"
    path.write_text(VALID, encoding="utf-8")
    uri = client.open(path, VALID)
    assert compile_diagnostics(client.diagnostics(uri)) == []
    text = VOCABULARY.read_text(encoding="utf-8").replace("fact foetal_dose:", "fact foetal_dose_mgy:")
    vocabulary_uri = client.open(vocabulary, text)
    client.diagnostics(vocabulary_uri)
    vocabulary.write_text(text, encoding="utf-8")
    client.forget(uri)
    client.notify("textDocument/didSave", {"textDocument": {"uri": vocabulary_uri}})
    errors = client.diagnostics(uri, lambda ds: len(compile_diagnostics(ds)) > 0, "the errors the save causes")
    assert any("foetal_dose" in e["message"] for e in errors)


def test_lint_leaves_no_cycle_for_the_collector_to_free_on_another_thread(monkeypatch):
    """lint()'s findings hold their Linter (an accepted finding's witness is searched when read), but the
    Linter does not hold them: dropping the findings frees it, and its z3 terms, at once, on the thread that
    drops them. (A cycle was freed by the cyclic collector on whatever thread ran it: in the language server,
    z3 terms freed on the check thread while the lint thread used z3 crashed the server.)"""
    import gc
    import weakref
    from evaluator.tools import lint as lint_module
    made: list[weakref.ref] = []
    run = lint_module.Linter.run

    def recorded(self):
        made.append(weakref.ref(self))
        return run(self)
    monkeypatch.setattr(lint_module.Linter, "run", recorded)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        from evaluator import load_criteria
        findings = lint_module.lint(load_criteria("2024"))
        accepted = [f for f in findings if f.allowed]
        # (No finding or Linter in an assert of this test: pytest's rewritten asserts keep their operands.)
        kept, count, witness = made[0]() is not None, len(accepted), accepted[0].witness
        assert count > 0 and kept  # kept while a witness may still be asked for
        assert isinstance(witness, dict)
        del findings, accepted
        freed = made[0]() is None
        assert freed, "the Linter is in a cycle: only the cyclic collector would free it"
    finally:
        if was_enabled:
            gc.enable()
