"""The service (`irmer serve`, evaluator/service): the API, its limits and errors, its contract, and the log.

- For the same bytes, /v1/evaluate and /v1/explain answer what `irmer evaluate --format json` and
  `irmer explain --format json` print, byte for byte; /v1/diff and /v1/schemas what `irmer diff` and
  `irmer schema` print.
- Limits on both sides of each bound: the body limit (413), the time limit (503), content types (415);
  malformed JSON is a 400 that says where; a bad item gets its own error; no traceback ever.
- The OpenAPI document is valid and built from the incident and result models.
- The decision log: each entry's fields, the input or its hash, the file hash, rotation, a line cut
  short by a crash, a second server refused, a disk that fails.
- A real server on 127.0.0.1: concurrent clients get what one client gets; a bounded load test with
  no error and nothing missing from the log; SIGTERM lets a request in flight finish; kill -9 under
  load loses no decision a client was answered.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import signal
import socket
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note that its TestClient would rather have httpx2
    from fastapi.testclient import TestClient

from evaluator.catalogue import versions
from evaluator.result import Result
from evaluator.service.app import Settings, create_app
from evaluator.service.decide import canonical
from evaluator.service.decision_log import DecisionLog, LogError, read_log, rotated_files

from served import Served

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

INCIDENT = {"id": "CT-0193", "jurisdiction": "England", "exposure": "accidental", "modality": "diagnostic",
            "total_dose": "8 mSv", "discovered_on": "2024-10-07"}
JSON = {"content-type": "application/json"}
LINES = {"content-type": "application/x-ndjson"}


def _bench():
    spec = importlib.util.spec_from_file_location("bench_service", ROOT / "bench" / "bench_service.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """One application for the tests that only ask (its log in a folder of its own)."""
    log = tmp_path_factory.mktemp("service") / "decisions.jsonl"
    with TestClient(create_app(Settings(log=log))) as client:
        yield client, log


@pytest.fixture
def client(served_app):
    return served_app[0]


def documents(response: httpx.Response) -> list[dict]:
    """The results of a response: JSON Lines, an array or one object."""
    if response.headers["content-type"] == "application/x-ndjson":
        return [json.loads(line) for line in response.text.splitlines()]
    value = response.json()
    return value if isinstance(value, list) else [value]


def entries(log: Path, request_id: str) -> list[dict]:
    return [e for e in read_log(log) if e["request_id"] == request_id]


# ------------------------------------------------------------------ the same answers as the command line

BODIES = {
    "one object": (json.dumps(INCIDENT).encode(), JSON),
    "the examples (an array)": ((ROOT / "examples" / "incidents.json").read_bytes(), JSON),
    "an empty array": (b"[]", JSON),
    "JSON Lines, recognised": (b'{"id": "a", "jurisdiction": "Wales", "exposure": "accidental"}\n'
                               b'{"id": "b", "jurisdiction": "England"}\n', JSON),
    "JSON Lines with bad lines": (b'{"id": 1, "jurisdiction": "Scotland", "exposure": "accidental"}\nnot json\n'
                                  b'{"id": 2, "id": 3}\n[1, 2]\n"text"\n{"age": "x years"}\n', LINES),
    "a byte-order mark": (b"\xef\xbb\xbf" + json.dumps(INCIDENT).encode(), JSON),
    "an array over lines": (json.dumps([INCIDENT, {"id": "n", "jurisdiction": "Wales"}], indent=2).encode(), JSON),
}


def test_doses_in_an_alternative_quantity_are_passed_on(client):
    """G-22: two dose-area products, decided from their ratio; the result as the API gives it."""
    incident = {"id": "G-22", "jurisdiction": "England", "exposure": "unintended", "modality": "interventional",
                "age": 63, "intended_dose": "50 Gy cm2", "total_dose": "60 Gy cm2"}
    answer = client.post("/v1/evaluate", content=json.dumps(incident), headers=JSON).json()
    assert (answer["notifiable"], answer["codes"], answer["error"]) == (False, [], None)
    assert "every E: not notifiable" in answer["notes"]
    mixed = client.post("/v1/evaluate", content=json.dumps({**incident, "intended_dose": "5 mSv"}), headers=JSON)
    assert mixed.json()["error"]["field"] == "total_dose"


@pytest.mark.parametrize("name", BODIES)
@pytest.mark.parametrize("criteria", [None, "2023"])
def test_evaluate_answers_what_the_command_prints(client, cli, tmp_path, name, criteria):
    body, headers = BODIES[name]
    path = tmp_path / "input"
    path.write_bytes(body)
    printed = cli("evaluate", "--format", "json", *(["--criteria", criteria] if criteria else []), str(path))
    response = client.post("/v1/evaluate", content=body, headers=headers, params={"criteria": criteria} if criteria else {})
    assert response.status_code == 200, response.text
    assert response.content == printed.stdout_bytes
    kind = "application/x-ndjson" if body.lstrip(b"\xef\xbb\xbf").startswith(b"{") and b"\n{" in body.strip() \
        else "application/json"
    assert response.headers["content-type"] == kind


@pytest.mark.parametrize("name", ["one object", "JSON Lines with bad lines"])
def test_explain_answers_what_the_command_prints(client, cli, tmp_path, name):
    body, headers = BODIES[name]
    path = tmp_path / "input"
    path.write_bytes(body)
    printed = cli("explain", "--format", "json", str(path))
    response = client.post("/v1/explain", content=body, headers=headers)
    assert response.status_code == 200
    assert response.content == printed.stdout_bytes
    assert all(result["explanation"] or result["error"] for result in documents(response))


def test_a_bad_item_gets_its_own_error_and_the_others_are_answered(client):
    body, headers = BODIES["JSON Lines with bad lines"]
    results = documents(client.post("/v1/evaluate", content=body, headers=headers))
    assert len(results) == 6
    assert results[0]["codes"] == ["1"] and results[0]["error"] is None
    assert [r["error"]["message"] for r in results[1:5]] == [
        "not valid JSON at column 1: Expecting value",
        'the key "id" is given twice in one object; which value was meant cannot be told',
        "an incident is a JSON object, not an array", "an incident is a JSON object, not a string"]
    assert results[5]["error"]["field"] == "age"


# ------------------------------------------------------------------ limits and errors

@pytest.mark.parametrize("content_type, status", [
    ("application/json", 200), ("application/json; charset=utf-8", 200), ("APPLICATION/JSON", 200),
    ("application/x-ndjson", 200), ("application/jsonl", 200), ("application/json-lines", 200),
    ("text/plain", 415), ("application/x-www-form-urlencoded", 415), (None, 415), ("application/xml", 415),
])
def test_content_types(client, content_type, status):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/evaluate", content=json.dumps(INCIDENT).encode(), headers=headers)
    assert response.status_code == status
    if status == 415:
        assert response.headers["content-type"] == "application/problem+json"
        assert "application/json" in response.json()["hint"]


@pytest.mark.parametrize("body, where", [
    (b'{"id": 1,', "request body:1:10: not valid JSON: Expecting property name enclosed in double quotes"),
    (b'{\n  "id": 1\n  "jurisdiction": "Wales"\n}', "request body:3:3: not valid JSON: Expecting ',' delimiter"),
    (b'[{"id": 1}, {"id": 2', "request body:1:21: not valid JSON: Expecting ',' delimiter"),
    (b'[{"id": 1} {"id": 2}]', "request body:1:12: not valid JSON: expected , or ] after element 1"),
    (b"", "request body: no incidents: the input is empty"),
    (b"   \n  ", "request body: no incidents: the input is empty"),
    (b'{"id": "\xff"}', "request body: not valid UTF-8: byte 0xff at offset 8"),
])
def test_malformed_json_is_a_400_that_says_where(client, body, where):
    response = client.post("/v1/evaluate", content=body, headers=JSON)
    assert response.status_code == 400
    problem = response.json()
    assert problem["detail"] == where
    assert problem["status"] == 400 and problem["title"] == "Bad Request" and problem["request_id"]


@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_any_body_is_answered_never_a_traceback(served_app, body):
    client, _ = served_app
    response = client.post("/v1/evaluate", content=body, headers=JSON)
    assert response.status_code in (200, 400)
    assert "Traceback" not in response.text
    if response.status_code == 400:
        assert response.json()["detail"]


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """An application with a body limit of 1,000 bytes and a time limit of 0.3 s."""
    log = tmp_path_factory.mktemp("limited") / "decisions.jsonl"
    with TestClient(create_app(Settings(log=log, max_body=1000, timeout=0.3))) as client:
        yield client, log


def _padded(size: int) -> bytes:
    body = json.dumps(INCIDENT).encode()
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("size, status", [(999, 200), (1000, 200), (1001, 413), (50_000, 413)])
def test_the_body_limit(limited, size, status):
    client, _ = limited
    response = client.post("/v1/evaluate", content=_padded(size), headers=JSON)
    assert response.status_code == status
    if status == 413:
        assert response.json()["detail"] == f"the body is {size:,} bytes; the limit is 1,000"


@pytest.mark.parametrize("size, status", [(1000, 200), (1001, 413)])
def test_the_body_limit_without_a_length(limited, size, status):
    """A chunked body has no Content-Length: the limit counts what arrives."""
    client, _ = limited
    data = _padded(size)
    response = client.post("/v1/evaluate", content=iter([data[:500], data[500:]]), headers=JSON)
    assert response.status_code == status
    if status == 413:
        assert response.json()["detail"] == "the body is larger than the limit of 1,000 bytes"


def test_the_limit_holds_for_the_diff_and_the_page_too(limited):
    client, _ = limited
    big = b'{"old": "2023", "new": "2024", "renames": {"' + b"x" * 1000 + b'": "y"}}'
    assert client.post("/v1/diff", content=iter([big]), headers=JSON).status_code == 413
    assert client.post("/interview", content=b"_id=" + b"x" * 2000,
                       headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413


def test_the_time_limit(tmp_path):
    log = tmp_path / "decisions.jsonl"
    with TestClient(create_app(Settings(log=log, timeout=1.0))) as client:
        quick = client.post("/v1/evaluate", json=INCIDENT, headers={"x-request-id": "quick"})
        many = b"".join(json.dumps({**INCIDENT, "id": str(i)}).encode() + b"\n" for i in range(60_000))
        slow = client.post("/v1/evaluate", content=many, headers={**LINES, "x-request-id": "slow"})
        metrics = client.get("/metrics").text
    assert quick.status_code == 200
    assert slow.status_code == 503
    assert slow.json()["detail"] == ("evaluating the incidents took longer than the time limit of 1 s, so nothing "
                                     "was answered")
    assert entries(log, "quick") and not entries(log, "slow")  # what was not answered is not logged
    assert "irmer_request_timeouts_total 1.0" in metrics


def test_unknown_criteria_and_no_paths(client):
    for spec in ["2022", "../criteria/irmer-2024-08-28.irmer", "/etc/passwd", "irmer-2024-08-28.irmer"]:
        response = client.post("/v1/evaluate", json=INCIDENT, params={"criteria": spec})
        assert response.status_code == 404
        assert response.json()["detail"] == f"no criteria {spec!r}"
        assert "2023, 2024" in response.json()["hint"]
    assert client.post("/v1/evaluate", json=INCIDENT, params={"criteria": "irmer-2023-04-19"}).json()["criteria"] == \
        "irmer-2023-04-19"


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/v1/nothing", 404), ("GET", "/v1/evaluate", 405), ("DELETE", "/v1/versions", 405),
    ("GET", "/v1/criteria/1999", 404), ("GET", "/v1/criteria/1999/table", 404),
])
def test_every_error_is_a_problem_document(client, method, path, status):
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["detail"] and problem["request_id"]


def test_a_fault_of_ours_is_said_plainly(tmp_path, monkeypatch):
    app = create_app(Settings(log=None))

    def broken(*args, **kwargs):
        raise RuntimeError("a bug, with a secret path /srv/x")

    monkeypatch.setattr(app.state.service.decider, "decide", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/evaluate", json=INCIDENT)
    assert response.status_code == 500
    assert response.json()["detail"] == ("internal error (RuntimeError); this is a fault in the service, not in the "
                                         "request")
    assert "Traceback" not in response.text and "/srv/x" not in response.text


def test_request_ids(served_app):
    client, log = served_app
    given = client.post("/v1/evaluate", json=INCIDENT, headers={"x-request-id": "incident-system:4711"})
    assert given.headers["x-request-id"] == "incident-system:4711"
    assert [e["result"] for e in entries(log, "incident-system:4711")] == [given.json()]
    for bad in ["has spaces", "x" * 129, "", "ümlaut"]:
        made = client.post("/v1/evaluate", json=INCIDENT, headers={"x-request-id": bad.encode("utf-8")})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


# ------------------------------------------------------------------ the guidance, schemas, operations

def test_versions_and_criteria(client):
    listed = client.get("/v1/versions").json()
    assert [v["version"] for v in listed] == [info.version for info in versions()]
    for info, entry in zip(versions(), listed):
        assert entry["sha256"] == hashlib.sha256(info.path.read_bytes()).hexdigest()
        assert entry["in_force"] == str(info.in_force)
        whole = client.get(entry["links"]["criteria"]).json()
        assert whole["source"] == info.path.read_text(encoding="utf-8") and whole["sha256"] == entry["sha256"]
        source = client.get(entry["links"]["source"])
        assert source.text == whole["source"] and source.headers["content-type"].startswith("text/plain")
    assert client.get("/v1/criteria/2024").json()["version"] == "irmer-2024-08-28"


def test_the_rendered_table(client):
    from evaluator import load_criteria
    from evaluator.tools.render_criteria import html
    page = client.get("/v1/criteria/2024/table")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == html(load_criteria("2024"))


def _without_witnesses(value):
    """A diff report without its witness incidents: z3 may find other witnesses in another run."""
    if isinstance(value, dict):
        return {k: _without_witnesses(v) for k, v in value.items() if k != "witnesses"}
    if isinstance(value, list):
        return [_without_witnesses(v) for v in value]
    return value


def test_diff_answers_what_the_command_prints(client, diff_2023_2024):
    response = client.post("/v1/diff", json={"old": "2023", "new": "2024"})
    assert response.status_code == 200
    assert response.text.startswith("{\n  ") and response.text.endswith("}\n")  # as --format json lays it out
    report = response.json()
    assert _without_witnesses(report) == _without_witnesses(json.loads(diff_2023_2024.model_dump_json()))
    assert all(code["witnesses"] for code in report["codes"] if code["verdict"] in ("narrowed", "broadened"))
    again = client.post("/v1/diff", json={"old": "2023", "new": "2024"})
    assert again.text == response.text  # the same request, the same report (kept)


@pytest.mark.parametrize("body, status, detail", [
    (b'{"old": "2023",', 400, "not valid JSON at body at character 15: Expecting property name enclosed in double "
                             "quotes"),
    (b'{"old": "2023"}', 400, "body.new: Field required"),
    (b'{"old": "2023", "new": 2024}', 400, "body.new: Input should be a valid string"),
    (b'{"old": "2023", "new": "2025"}', 404, "no criteria '2025'"),
])
def test_diff_refuses_with_where(client, body, status, detail):
    response = client.post("/v1/diff", content=body, headers=JSON)
    assert response.status_code == status
    assert response.json()["detail"] == detail


def test_schemas_are_the_commands(client, cli):
    assert client.get("/v1/schemas/incident").json() == json.loads(cli("schema").stdout)
    assert client.get("/v1/schemas/result").json() == json.loads(cli("schema", "--result").stdout)


def test_health_and_metrics(tmp_path):
    with TestClient(create_app(Settings(log=tmp_path / "d.jsonl"))) as client:
        assert client.get("/healthz").json() == {"status": "ok", "versions": [i.version for i in versions()],
                                                 "decision_log": str(tmp_path / "d.jsonl")}
        client.post("/v1/evaluate", json=[INCIDENT, INCIDENT, {"jurisdiction": "England"}, 7])
        client.get("/v1/criteria/2023")
        client.get("/v1/criteria/2024")
        text = client.get("/metrics").text
    for line in ['irmer_decisions_total{criteria="irmer-2024-08-28",verdict="notifiable"} 2.0',
                 'irmer_decisions_total{criteria="irmer-2024-08-28",verdict="undetermined"} 1.0',
                 'irmer_decisions_total{criteria="",verdict="error"} 1.0',
                 'irmer_http_requests_total{method="POST",route="/v1/evaluate",status="200"} 1.0',
                 'irmer_http_requests_total{method="GET",route="/v1/criteria/{version}",status="200"} 2.0',
                 "irmer_decision_log_entries_total 4.0"]:
        assert line in text.splitlines(), line


def test_the_openapi_document(client):
    from openapi_spec_validator import validate
    from evaluator import load_vocabulary
    document = client.get("/openapi.json").json()
    validate(document)
    schemas = document["components"]["schemas"]
    assert set(load_vocabulary().facts) <= set(schemas["Incident"]["properties"])
    assert set(Result.model_fields) == set(schemas["Result"]["properties"])
    for path in ("/v1/evaluate", "/v1/explain"):
        operation = document["paths"][path]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body["anyOf"][0] == {"$ref": "#/components/schemas/Incident"}
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"][0] == \
            {"$ref": "#/components/schemas/Result"}
        assert {"400", "404", "413", "415", "503"} <= set(operation["responses"])
    assert "422" not in json.dumps(document["paths"])
    assert set(document["paths"]) >= {"/v1/evaluate", "/v1/explain", "/v1/versions", "/v1/criteria/{version}",
                                      "/v1/diff", "/healthz", "/metrics"}
    assert "/" not in document["paths"]


# ------------------------------------------------------------------ the decision log

def test_each_decision_is_logged_with_its_version_and_input(served_app):
    client, log = served_app
    body = (b'{"id": "L1", "jurisdiction": "England", "exposure": "accidental", "age": 45.50, '
            b'"total_dose": "2 mSv", "discovered_on": "2023-06-01"}\nnot json\n{"id": "L3", "jurisdiction": "Wales"}\n')
    response = client.post("/v1/evaluate", content=body, headers={**LINES, "x-request-id": "logged-1"})
    answered = [json.loads(line) for line in response.text.splitlines()]
    logged = entries(log, "logged-1")
    assert [e["item"] for e in logged] == [1, 2, 3]
    assert [e["result"] for e in logged] == answered
    first, bad, third = logged
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first["time"])
    assert first["path"] == "/v1/evaluate" and first["irmer"] == "0.1.0"
    assert (first["criteria"], third["criteria"]) == ("irmer-2023-04-19", "irmer-2024-08-28")  # by discovered_on
    for entry in (first, third):
        info = next(i for i in versions() if i.version == entry["criteria"])
        assert entry["criteria_sha256"] == hashlib.sha256(info.path.read_bytes()).hexdigest()
    assert first["input"]["id"] == "L1"
    raw = next(line for line in log.read_text().splitlines() if '"logged-1"' in line and '"item": 1' in line)
    assert '"age":45.50' in raw  # the number as written: the log is exact
    assert bad["input"] is None and bad["input_error"].startswith("not valid JSON") and bad["criteria"] is None


def test_the_log_can_keep_only_the_inputs_hash(tmp_path):
    log = tmp_path / "d.jsonl"
    body = b'{"jurisdiction": "Wales", "id": "H", "exposure": "accidental", "age": 1.50}'
    with TestClient(create_app(Settings(log=log, log_input="sha256"))) as client:
        client.post("/v1/evaluate", content=body, headers={**JSON, "x-request-id": "hashed"})
    (entry,) = entries(log, "hashed")
    assert "input" not in entry
    same = canonical(json.loads(body, parse_float=Decimal))
    assert same == '{"age":1.50,"exposure":"accidental","id":"H","jurisdiction":"Wales"}'
    assert entry["input_sha256"] == hashlib.sha256(same.encode()).hexdigest()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() |
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


@given(json_values)
def test_canonical_json_reads_back_and_ignores_key_order(value):
    text = canonical(value)
    assert text.isascii()
    assert json.loads(text, parse_float=Decimal) == value
    if isinstance(value, dict):
        assert canonical(dict(reversed(list(value.items())))) == text


def test_rotation(tmp_path):
    path = tmp_path / "d.jsonl"
    log = DecisionLog(path, max_bytes=300)
    lines = [json.dumps({"request_id": f"r{i}", "pad": "x" * 80}).encode() for i in range(12)]
    for line in lines:
        log.append([line]).result()
    log.close()
    rotated = rotated_files(path)
    assert [p.name for p in rotated][:3] == ["d.jsonl.000001", "d.jsonl.000002", "d.jsonl.000003"]
    assert all(p.stat().st_size >= 300 for p in rotated) and path.stat().st_size < 300
    assert [e["request_id"] for e in read_log(path)] == [f"r{i}" for i in range(12)]  # all, in order

    kept = DecisionLog(path, max_bytes=300, keep=2)
    for line in lines:
        kept.append([line]).result()
    kept.close()
    assert [p.name for p in rotated_files(path)] == [f"d.jsonl.{n:06d}" for n in
                                                    (len(rotated) + kept.rotations - 1, len(rotated) + kept.rotations)]


def test_a_line_cut_short_by_a_crash(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"request_id": "a"}\n{"request_id": "b", "res')
    log = DecisionLog(path)
    log.append([b'{"request_id": "c"}']).result()
    log.close()
    assert path.read_bytes() == b'{"request_id": "a"}\n{"request_id": "b", "res\n{"request_id": "c"}\n'
    assert [e["request_id"] for e in read_log(path)] == ["a", "c"]


def test_one_log_one_server(tmp_path):
    first = DecisionLog(tmp_path / "d.jsonl")
    with pytest.raises(LogError, match="in use by another server"):
        DecisionLog(tmp_path / "d.jsonl")
    first.close()
    DecisionLog(tmp_path / "d.jsonl").close()  # free again


def test_a_disk_that_fails(tmp_path, monkeypatch):
    log = tmp_path / "d.jsonl"
    app = create_app(Settings(log=log))
    writer = app.state.service.log
    real = writer._write

    def full(data: bytes) -> None:
        real(data[: len(data) // 2])  # part of a line reaches the disk, then the disk is full
        raise OSError(28, "No space left on device")

    with TestClient(app) as client:
        monkeypatch.setattr(writer, "_write", full)
        refused = client.post("/v1/evaluate", json=INCIDENT, headers={"x-request-id": "lost"})
        health = client.get("/healthz")
        monkeypatch.setattr(writer, "_write", real)
        again = client.post("/v1/evaluate", json=INCIDENT, headers={"x-request-id": "kept"})
        healthy = client.get("/healthz")
        metrics = client.get("/metrics").text
    assert refused.status_code == 503
    assert refused.json()["detail"].startswith(f"cannot write the decision log {log}: No space left on device")
    assert health.status_code == 503 and health.json()["status"] == "failing"
    assert again.status_code == 200 and healthy.status_code == 200
    assert [e["request_id"] for e in read_log(log)] == ["kept"]
    assert "irmer_decision_log_failures_total 1.0" in metrics


def test_no_answer_before_its_decisions_are_on_disk(tmp_path, monkeypatch):
    app = create_app(Settings(log=tmp_path / "d.jsonl"))
    writer = app.state.service.log
    real = writer._write
    writing, release = threading.Event(), threading.Event()

    def slow(data: bytes) -> None:
        writing.set()
        release.wait(60)
        real(data)

    monkeypatch.setattr(writer, "_write", slow)
    answer: dict = {}
    with TestClient(app) as client:
        sender = threading.Thread(target=lambda: answer.update(response=client.post("/v1/evaluate", json=INCIDENT)))
        sender.start()
        assert writing.wait(60)
        time.sleep(0.3)
        assert "response" not in answer  # held while its decision is being written and fsynced
        release.set()
        sender.join(60)
    assert answer["response"].status_code == 200
    assert [e["result"] for e in read_log(tmp_path / "d.jsonl")] == [answer["response"].json()]


# ------------------------------------------------------------------ a real server

def test_serve_says_why_it_cannot_start(cli, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port), "--no-log")
        assert result.exit_code == 2
        assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    finally:
        taken.close()
    holder = DecisionLog(tmp_path / "d.jsonl")
    try:
        result = cli("serve", "--port", "0", "--log", str(tmp_path / "d.jsonl"))
        assert result.exit_code == 2 and "is in use by another server" in result.stderr
    finally:
        holder.close()


def test_the_listening_socket_is_tcp_without_nagle():
    from evaluator.service.server import bind
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # so that asyncio sets TCP_NODELAY on each connection
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()


def test_a_kept_alive_connection_is_answered_at_once(tmp_path):
    """No response waits for the client's delayed ACK (about 40 ms) behind Nagle's algorithm."""
    with Served(tmp_path, None) as server:
        host, port = server.url.split("//")[1].rstrip("/").split(":")
        with socket.create_connection((host, int(port))) as connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            times = []
            for _ in range(21):
                started = time.perf_counter()
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
                data = b""
                while not (b"\r\n\r\n" in data and data.endswith(b"}")):
                    data += connection.recv(65536)
                times.append(time.perf_counter() - started)
    assert sorted(times)[10] < 0.030, f"median {sorted(times)[10] * 1000:.1f} ms"


def test_a_client_that_stops_sending_is_answered_at_the_time_limit(tmp_path):
    with Served(tmp_path, tmp_path / "d.jsonl", "--timeout", "1") as server:
        host, port = server.url.split("//")[1].rstrip("/").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            started = time.monotonic()
            connection.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 100\r\nX-Request-ID: stalled\r\n\r\n{\"id\": ")
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
            waited = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 503 ")
    assert b"receiving the body took longer than the time limit of 1 s" in data
    assert 0.9 < waited < 10
    assert not [e for e in read_log(tmp_path / "d.jsonl") if e["request_id"] == "stalled"]


def test_concurrent_clients_get_what_one_client_gets(tmp_path):
    """Evaluate, explain, the interview and the criteria, all at once from many threads."""
    requests = [("POST", "/v1/evaluate", json.dumps(i).encode(), JSON) for i in json.loads(BODIES["the examples (an array)"][0])]
    requests += [("POST", "/v1/explain", BODIES["JSON Lines with bad lines"][0], LINES),
                 ("POST", "/v1/evaluate", (ROOT / "examples" / "incidents.json").read_bytes(), JSON),
                 ("POST", "/interview", b"jurisdiction=England&exposure=unintended&modality=diagnostic",
                  {"content-type": "application/x-www-form-urlencoded"}),
                 ("GET", "/v1/criteria/2023", b"", {}), ("GET", "/v1/versions", b"", {})]
    with Served(tmp_path, tmp_path / "decisions.jsonl") as server:
        with httpx.Client(base_url=server.url, timeout=60) as one:
            alone = [one.request(m, p, content=b, headers=h).content for m, p, b, h in requests]

        def ask(index: int) -> tuple[int, bytes]:
            method, path, body, headers = requests[index % len(requests)]
            with httpx.Client(base_url=server.url, timeout=60) as each:
                return index, each.request(method, path, content=body, headers=headers).content

        with ThreadPoolExecutor(max_workers=16) as pool:
            together = list(pool.map(ask, range(8 * len(requests))))
    for index, body in together:
        assert body == alone[index % len(requests)], requests[index % len(requests)][:2]


def test_a_bounded_load(tmp_path):
    """The load test of bench/bench_service.py, smaller: no error, each response right, each in the log."""
    bench = _bench()
    payloads = bench.bodies(300)
    log = tmp_path / "decisions.jsonl"
    with Served(tmp_path, log) as server:
        load = bench.hammer(server.url, payloads, 2000, 50)
    assert load.failures == []
    assert len(load.answered) == 2000
    assert bench.check(load, payloads, log) == []


def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    log = tmp_path / "decisions.jsonl"
    batch = b"".join(json.dumps({**INCIDENT, "id": f"T{i}"}).encode() + b"\n" for i in range(20_000))
    with Served(tmp_path, log) as server:
        answer: dict = {}

        def send() -> None:
            with httpx.Client(timeout=120) as http:
                answer["response"] = http.post(server.url + "v1/evaluate", content=batch,
                                               headers={**LINES, "x-request-id": "in-flight"})

        sender = threading.Thread(target=send)
        sender.start()
        deadline, in_flight = time.monotonic() + 60, False
        while time.monotonic() < deadline and not in_flight:  # until the batch is being evaluated: two in flight
            gauge = re.search(r"^irmer_http_requests_in_flight (\S+)$", httpx.get(server.url + "metrics").text, re.M)
            in_flight = bool(gauge) and float(gauge.group(1)) >= 2
            if not in_flight:
                time.sleep(0.02)
        server.signal(signal.SIGTERM)
        assert in_flight, "the batch was never seen in flight: the signal came after it, and tested nothing"
        sender.join(120)
        status = server.wait()
    response = answer["response"]
    assert response.status_code == 200
    assert [json.loads(line)["id"] for line in response.text.splitlines()] == [f"T{i}" for i in range(20_000)]
    assert status == -signal.SIGTERM  # uvicorn ends with the signal, once its requests are done
    assert "Application shutdown complete" in server.stderr()
    assert len(entries(log, "in-flight")) == 20_000


def test_kill_9_under_load_loses_no_decision_that_was_answered(tmp_path):
    bench = _bench()
    payloads = bench.bodies(200)
    log = tmp_path / "decisions.jsonl"
    with Served(tmp_path, log) as server:
        killed = []

        def kill_after(count: int) -> None:
            if count >= 400 and not killed:
                server.signal(signal.SIGKILL)
                killed.append(count)

        load = bench.hammer(server.url, payloads, 3000, 20, on_answer=kill_after)
        assert server.wait() == -signal.SIGKILL
    assert killed and len(load.answered) >= 400 and load.failures  # killed under load
    assert bench.check(load, payloads, log) == []  # every answered decision is in the log, as answered
    raw = log.read_bytes().split(b"\n")
    assert all(json.loads(line) for line in raw[:-1])  # whole lines; at most the last is cut short
    # A new server takes the log over (the lock died with the process) and starts on a line of its own.
    with Served(tmp_path, log) as again:
        httpx.post(again.url + "v1/evaluate", json=INCIDENT, headers={"x-request-id": "after"})
    assert [e["request_id"] for e in read_log(log)][-1] == "after"


# ------------------------------------------------------------------ the documentation

def test_the_documentation_covers_every_option_and_path(client):
    """docs/service.md lists every `irmer serve` option and every path of the API; the README shows both."""
    from evaluator.cli import serve
    service_md = (ROOT / "docs" / "service.md").read_text(encoding="utf-8")
    for option in serve.params:
        for name in option.opts:
            if name.startswith("--"):
                assert f"`{name}" in service_md, name
    for path in client.get("/openapi.json").json()["paths"]:
        assert path in service_md, path
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "$ irmer serve\n" in readme and "--json @examples/incidents.json http://127.0.0.1:8000/v1/evaluate" in readme
    assert "(docs/images/interview.png)" in readme and (ROOT / "docs" / "images" / "interview.png").is_file()
