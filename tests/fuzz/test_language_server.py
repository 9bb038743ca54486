"""The language server over its real JSON-RPC protocol: whatever an editor (or anything else) sends.

One `irmer lsp` process serves the whole module, through the client of tests/test_lsp.py. It gets
requests for every method it serves and some it does not, with params missing, null, of the wrong
shape or pointing nowhere (positions far outside a document, documents never opened, URIs that
are not files), odd request ids, notifications with bad params, bodies that are not JSON, and
documents edited at random between hovers.

The properties:
- every request gets a response with its id (or, when its id is not a valid JSON-RPC id, with
  id null), within a time bound; never an Internal Error (-32603), which would be a fault of
  ours; a method the server does not have is Method Not Found (-32601);
- after anything at all, the server is still alive and answers a hover;
- after random edits, the server publishes diagnostics for the last version of the document.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from fuzz import examples
from fuzz.known import known, known_marks
from fuzz.test_criteria import edits
from test_lsp import Client

CRITERIA = ROOT / "criteria" / "irmer-2024-08-28.irmer"
VOCABULARY = ROOT / "criteria" / "incident-vocabulary.irmer"
VALID = CRITERIA.read_text(encoding="utf-8")
INTERNAL_ERROR = -32603
METHOD_NOT_FOUND = -32601
ANSWER_SECONDS = 10.0  # a hover takes milliseconds; the bound allows for a busy machine


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lsp-fuzz").resolve()
    shutil.copy(VOCABULARY, folder / VOCABULARY.name)
    client = Client(folder)
    client.initialize(folder)
    path = folder / "draft.irmer"
    path.write_text(VALID, encoding="utf-8")
    client.open_uri = client.open(path, VALID)
    client.folder = folder
    client.version = 1
    yield client
    client.close()


def answer(client: Client, message: dict, seconds: float = ANSWER_SECONDS) -> dict:
    """Send a request; its response (result or error), which must come.

    A request whose id is not a string or an integer is answered with its id (JSON-RPC allows
    any number) or with id null (an Invalid Request)."""
    ident = message.get("id")
    valid_id = isinstance(ident, (int, str)) and not isinstance(ident, bool)
    if not valid_id:  # answered with id null, perhaps: forget earlier such answers
        client.stash = [m for m in client.stash if not (m.get("id") is None and "method" not in m)]
    client.send(message)
    wanted = [ident] if valid_id else [ident, None]
    response = client.wait(lambda m: "method" not in m and m.get("id") in wanted and ("result" in m or "error" in m),
                           seconds, what=f"the answer to {message!r:.300}")
    assert ("result" in response) != ("error" in response), response
    if "error" in response:
        assert response["error"].get("code") != INTERNAL_ERROR, f"a fault of ours: {response} for {message!r:.300}"
    return response


def alive(client: Client) -> None:
    """The server still runs and answers a hover."""
    assert client.process.poll() is None, f"the server has stopped:\n{client.server_stderr()}"
    line = next(i for i, text in enumerate(VALID.split("\n")) if text.strip() == "as not child")
    client.next_id += 1
    response = answer(client, {"jsonrpc": "2.0", "id": client.next_id, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": client.open_uri}, "position": {"line": line, "character": 9}}})
    assert "result" in response, response


# ------------------------------------------------------------------ what is sent

METHODS = ["textDocument/hover", "textDocument/definition", "initialize", "textDocument/completion",
           "textDocument/documentSymbol", "textDocument/formatting", "workspace/symbol", "textDocument/didOpen",
           "foo", "", "textDocument/hover\u0000", "shutdown\u200b"]
NOTIFICATIONS = ["textDocument/didOpen", "textDocument/didChange", "textDocument/didClose", "textDocument/didSave",
                 "initialized", "$/cancelRequest", "$/setTrace", "workspace/didChangeConfiguration",
                 "workspace/didChangeWatchedFiles", "textDocument/willSave", "foo/bar"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
numbers = st.one_of(st.integers(-5, 2000), st.integers(-2**63, 2**63), st.floats(allow_nan=False), st.text(max_size=3),
                    st.none())
position = st.fixed_dictionaries({}, optional={"line": numbers, "character": numbers})


def uris(client: Client) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(client.open_uri), st.just(client.open_uri),
        st.just((client.folder / "never-opened.irmer").as_uri()),
        st.just((client.folder / VOCABULARY.name).as_uri()),
        st.just((client.folder / "sub").as_uri()), st.just(client.folder.as_uri()),
        st.sampled_from(["file:///", "file:///dev/null", "file:///proc/self/mem", "file:///etc", "untitled:Untitled-1",
                         "not a uri", "", "file://host/share/x.irmer", "file:///%ZZ", "file:///x%00y.irmer",
                         "http://example.invalid/x.irmer", "file:///" + "a" * 5000 + ".irmer"]),
        st.text(max_size=30),
    )


def text_document_params(client: Client) -> st.SearchStrategy[dict]:
    document = st.one_of(st.fixed_dictionaries({"uri": uris(client)}), json_values)
    return st.one_of(
        st.fixed_dictionaries({"textDocument": document, "position": st.one_of(position, json_values)}),
        st.fixed_dictionaries({}, optional={"textDocument": document, "position": position,
                                            "workDoneToken": json_values, "extra": json_values}),
    )


def params(client: Client) -> st.SearchStrategy:
    return st.one_of(text_document_params(client), text_document_params(client), json_values,
                     st.just({}), st.just([]), st.none())


request_ids = st.one_of(st.integers(10**6, 10**7), st.text(min_size=1, max_size=8),
                        st.sampled_from([2**63, -1, 0, "", "\u2028", 1.5, True]))


@st.composite
def requests(draw, client: Client) -> dict:
    message = {"jsonrpc": draw(st.sampled_from(["2.0", "2.0", "2.0", None])),
               "id": draw(request_ids),
               "method": draw(st.sampled_from(METHODS) | st.text(max_size=10).filter(lambda m: m not in ("exit",
                                                                                                         "shutdown")))}
    if message["jsonrpc"] is None:
        del message["jsonrpc"]
    if draw(st.booleans()) or draw(st.booleans()):
        message["params"] = draw(params(client))
    return message


# ------------------------------------------------------------------ the tests

@settings(max_examples=examples(60))
@given(data=st.data())
def test_every_request_is_answered(server, data):
    answer(server, data.draw(requests(server), label="request"))
    alive(server)


# Requests that are odd in their envelope: a JSON-RPC version other than 2.0, an id that is
# neither a string nor a number, a `$/` method sent as a request.
ODD_REQUESTS = [
    {"jsonrpc": "1.0", "id": 101, "method": "textDocument/hover"},
    {"jsonrpc": "2.0", "id": [102], "method": "textDocument/hover"},
    {"jsonrpc": "2.0", "id": {"n": 103}, "method": "textDocument/hover"},
    {"jsonrpc": "2.0", "id": 104, "method": "$/cancelRequest", "params": {"id": 1}},
    {"jsonrpc": "2.0", "id": 105, "method": "$/setTrace", "params": {"value": "off"}},
]


@known("lsp-odd-requests")
def test_odd_requests_are_answered(server):
    for message in ODD_REQUESTS:
        message = dict(message, params=message.get("params", {"textDocument": {"uri": server.open_uri},
                                                               "position": {"line": 0, "character": 0}}))
        answer(server, message, seconds=3)
    alive(server)


LACKING = [(method, params) for method in ("foo", "$/unknown", "textDocument/completion", "")
           for params in (None, {}, [])]


@pytest.mark.parametrize("method, params", [
    pytest.param(method, params, id=f"{method or 'empty'}-{type(params).__name__}",
                 # Known: Invalid Params instead, with no params, or with params not of an LSP type.
                 marks=known_marks("lsp-unknown-method") if params is None or method.startswith("textDocument/")
                 else ())
    for method, params in LACKING])
def test_a_method_the_server_lacks_is_method_not_found(server, method, params):
    message = {"jsonrpc": "2.0", "id": 200, "method": method}
    if params is not None:
        message["params"] = params
    response = answer(server, message)
    assert response.get("error", {}).get("code") == METHOD_NOT_FOUND, response


@settings(max_examples=examples(40))
@given(data=st.data())
def test_a_bad_notification_does_not_stop_the_server(server, data):
    method = data.draw(st.sampled_from(NOTIFICATIONS), label="method")
    message = {"jsonrpc": "2.0", "method": method}
    if data.draw(st.booleans(), label="with params"):
        message["params"] = data.draw(params(server), label="params")
    if method in ("textDocument/didClose", "textDocument/didOpen", "textDocument/didChange"):
        # Closing or replacing the document the checks hover over: put it back afterwards.
        server.send(message)
        server.version += 1
        reopen(server)
    else:
        server.send(message)
    alive(server)


def reopen(client: Client) -> None:
    client.version += 1
    client.notify("textDocument/didOpen", {"textDocument": {"uri": client.open_uri, "languageId": "irmer",
                                                            "version": client.version, "text": VALID}})


BODIES = [b"not json", b"{", b"[]", b"[1, 2]", b'"text"', b"42", b"null", b"\xff\xfe\x00", b'{"jsonrpc": "2.0"}',
          b'{"jsonrpc": "2.0", "id": 1}', b'{"jsonrpc": "2.0", "method": 5, "id": 7}', b"{}" * 3,
          b'{"jsonrpc": "2.0", "id": 8, "method": "textDocument/hover", "params": {"textDocument": {"uri": 5}}}']


@pytest.mark.parametrize("body", BODIES, ids=[repr(b)[2:20] for b in BODIES])
def test_a_body_that_is_not_a_request_does_not_stop_the_server(server, body):
    server.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    server.process.stdin.flush()
    alive(server)


@settings(max_examples=examples(10))
@given(data=st.data())
def test_random_edits_are_checked_to_the_last(server, data):
    text = VALID
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        text = data.draw(edits(text), label="text")
        server.version += 1
        server.change(server.open_uri, server.version, text)
        lines = text.split("\n")
        line = data.draw(st.integers(0, len(lines)), label="line")
        character = data.draw(st.integers(0, len(lines[line]) + 2 if line < len(lines) else 3), label="character")
        for method in ("textDocument/hover", "textDocument/definition"):
            server.next_id += 1
            answer(server, {"jsonrpc": "2.0", "id": server.next_id, "method": method, "params": {
                "textDocument": {"uri": server.open_uri}, "position": {"line": line, "character": character}}})
    version = server.version
    server.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                and m["params"]["uri"] == server.open_uri and m["params"].get("version") == version,
                what=f"the diagnostics of version {version}")
    server.version += 1
    server.change(server.open_uri, server.version, VALID)
    alive(server)
