"""From a request's body to its decisions: evaluated as `irmer evaluate` evaluates, logged line by line.

The service reads a body exactly as the command line reads a file
(evaluator/batch.py: one JSON object, an array, or JSON Lines; a bad item gets
its own error and the others are answered), picks each incident's version the
same way (the one in force on its `discovered_on`, else the latest, unless the
request names one) and writes each result with the same function. So for the
same bytes the response body is the command's output, byte for byte.

>>> decider = Decider()
>>> decided = decider.decide(b'{"id": "a", "jurisdiction": "Wales", "exposure": "accidental"}', "application/json",
...                          request_id="r1", path="/v1/evaluate")
>>> import json
>>> json.loads(decided.body)["codes"], decided.media_type, decided.verdicts
(['1'], 'application/json', [('irmer-2024-08-28', 'notifiable')])
>>> entry = json.loads(decided.lines[0])
>>> entry["request_id"], entry["item"], entry["criteria"], entry["input"]["id"], entry["result"]["codes"]
('r1', 1, 'irmer-2024-08-28', 'a', ['1'])
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .. import __version__

# Content types of a body: JSON (an object or an array; JSON Lines are recognised too, as the command
# line does) or JSON Lines (each line answered on its own, whatever the first looks like).
JSON_TYPES = frozenset({"application/json"})
LINES_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines",
                         "application/jsonlines", "application/json-lines"})
LINES_OUT = "application/x-ndjson"
# How the input is kept in the log: the incident itself, or only its SHA-256.
INPUT_MODES = ("full", "sha256")


class Refused(Exception):
    """A request the service cannot answer: an HTTP status, a sentence, and a hint."""

    def __init__(self, status: int, detail: str, hint: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.hint = hint


class Cancelled(Exception):
    """The request's time ran out while it was being evaluated: stop, answer nothing, log nothing."""


@dataclass
class Decided:
    """A request's response body (as the command line writes it) and its lines for the decision log."""

    body: bytes
    media_type: str
    lines: list[bytes] = field(default_factory=list)
    verdicts: list[tuple[str, str]] = field(default_factory=list)  # (criteria, verdict), for the metrics


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def lines_wanted(content_type: str | None) -> bool:
    """Whether a body of this content type is read as JSON Lines (raises Refused for another type)."""
    kind = media_type(content_type)
    if kind in LINES_TYPES:
        return True
    if kind in JSON_TYPES:
        return False
    said = f"the content type {kind!r}" if kind else "no content type"
    raise Refused(415, f"{said} is not one the API reads",
                  "send application/json (one incident or an array) or application/x-ndjson (JSON Lines); "
                  "with curl: --json @incident.json, or -H 'content-type: application/json' --data-binary @FILE")


def verdict(result: Any) -> str:
    """notifiable, not_notifiable, undetermined or error: a result in one word, for the metrics."""
    if _field(result, "error") is not None:
        return "error"
    return {True: "notifiable", False: "not_notifiable"}.get(_field(result, "notifiable"), "undetermined")


def _field(result: Any, name: str) -> Any:
    return result.get(name) if isinstance(result, dict) else getattr(result, name)


def canonical(value: Any) -> str:
    """An incident as canonical JSON: keys sorted, no spaces, non-ASCII as \\u escapes, numbers as written.
    The log's `input`, and what `input_sha256` is the SHA-256 of (UTF-8 bytes).

    >>> canonical({"b": Decimal("1.50"), "a": ["é", 2, None, True]})
    '{"a":["\\\\u00e9",2,null,true],"b":1.50}'
    """
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{canonical(value[key])}" for key in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)  # the number's own digits: 1.50 stays 1.50
    return json.dumps(value)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def now() -> str:
    """The time of a decision: UTC, to the microsecond, ISO 8601 with Z."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Decider:
    """The shipped versions, loaded once, and the decisions made with them."""

    def __init__(self, log_input: str = "full"):
        from ..catalogue import versions
        if log_input not in INPUT_MODES:
            raise ValueError(f"log_input is one of {', '.join(INPUT_MODES)}, not {log_input!r}")
        self.log_input = log_input
        self.catalogue = versions()
        # Each version's file hash, read once: the server keeps the versions it loaded at start.
        self.digests = {info.version: _sha256(info.path) for info in self.catalogue}
        self._versions: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ versions
    def version(self, spec: str) -> Any:
        """The shipped version `2024` or `irmer-2024-08-28` names (never a path: a client may not make
        the server read a file); raises Refused(404)."""
        for info in self.catalogue:
            if spec == info.version or (info.published is not None and spec == str(info.published.year)):
                return info
        known = ", ".join([str(i.published.year) for i in self.catalogue if i.published] +
                          [i.version for i in self.catalogue])
        raise Refused(404, f"no criteria {spec!r}", f"give one of: {known} (GET /v1/versions lists them)")

    def versions(self, criteria: str | None = None) -> Any:
        """The batch reader's version chooser for these criteria (None: by discovered_on)."""
        key = None if criteria is None else self.version(criteria).version
        with self._lock:
            if key not in self._versions:
                from ..batch import make_versions
                chooser = make_versions(key)
                for info in self.catalogue:  # load every version now, not under the first request
                    chooser.engine(info)
                self._versions[key] = chooser
            return self._versions[key]

    def warm(self) -> None:
        """Build now what the engines would build on first need (the three-valued side, the
        explanation's pipeline), so that concurrent first requests do not race to build it."""
        from ..batch import Item, Options, evaluate_item
        chooser = self.versions(None)
        for info in self.catalogue:
            fixed = self.versions(info.version)
            for options in (Options(output="json"), Options(output="json", explain=True)):
                for incident in ({"jurisdiction": "England"}, {"jurisdiction": "Wales", "exposure": "accidental"}):
                    evaluate_item(Item(value=dict(incident)), fixed, options)
                    evaluate_item(Item(value={**incident, "discovered_on": str(info.in_force or "2000-01-01")}),
                                  chooser, options)

    # ------------------------------------------------------------ deciding
    def decide(self, body: bytes, content_type: str | None, criteria: str | None = None, explain: bool = False,
               *, request_id: str, path: str, cancelled: threading.Event | None = None) -> Decided:
        """Evaluate a request's body; raises Refused (a body that cannot be read at all) or Cancelled."""
        from ..batch import InputError, Options, Source, evaluate_item, render
        lines = lines_wanted(content_type)
        chooser = self.versions(criteria)
        try:
            source = Source(io.BytesIO(body), "request body", lines=lines)
            options = Options(criteria=criteria, output="json", explain=explain, shape=source.shape)
            compact = Options(criteria=criteria, output="json", explain=explain, shape="lines")
            texts, log, verdicts = [], [], []
            time, header = now(), {"request_id": request_id, "path": path, "irmer": __version__}
            for number, item in enumerate(source, 1):
                if cancelled is not None and cancelled.is_set():
                    raise Cancelled()
                result = evaluate_item(item, chooser, options)
                text = render(result, options)
                texts.append(text)
                flat = text if options.shape == "lines" else render(result, compact)
                version = _field(result, "criteria")
                log.append(self._entry(time, header, number, item, version, flat))
                verdicts.append((version or "", verdict(result)))
        except InputError as error:
            raise Refused(400, str(error), "the body must be one JSON object, a JSON array of objects, or JSON "
                          "Lines (one object a line)") from None
        return Decided(_joined(texts, options.shape), LINES_OUT if options.shape == "lines" else "application/json",
                       log, verdicts)

    def decide_incident(self, incident: dict[str, Any], criteria: str | None, *, request_id: str,
                        path: str) -> tuple[Any, bytes]:
        """One incident given as a dict (the interview): its explained Result and its log line."""
        from ..batch import Item, Options, evaluate_item, render
        options = Options(criteria=criteria, output="json", explain=True, shape="lines")
        item = Item(value=incident, line=1)
        result = evaluate_item(item, self.versions(criteria), options)
        line = self._entry(now(), {"request_id": request_id, "path": path, "irmer": __version__}, 1, item,
                           result.criteria, render(result, options))
        return result, line

    def _entry(self, time: str, header: dict[str, Any], number: int, item: Any, version: str | None,
               result: str) -> bytes:
        fields = {"time": time, **header, "item": number, "criteria": version,
                  "criteria_sha256": self.digests.get(version) if version else None}
        if item.error is not None:
            fields["input_error"] = item.error  # the item could not be read: there is no value to keep
            given = "null"
        else:
            try:
                given = canonical(item.value)
            except RecursionError:  # deeper than any incident; its result already says it cannot be read
                given = "null"
        if self.log_input == "sha256":
            key, given = "input_sha256", json.dumps(hashlib.sha256(given.encode("utf-8", "surrogatepass")).hexdigest())
        else:
            key = "input"
        text = json.dumps(fields, ensure_ascii=False)[:-1] + f', "{key}": {given}, "result": {result}}}'
        return text.encode("utf-8", "surrogatepass")


def _joined(texts: list[str], shape: str) -> bytes:
    """The results as `irmer evaluate` writes them (evaluator/cli.py _write)."""
    if shape == "array":
        body = "[" + "".join(("\n" if i == 0 else ",\n") + t for i, t in enumerate(texts)) + ("\n]\n" if texts else "]\n")
    else:
        body = "".join(t + "\n" for t in texts)
    return body.encode("utf-8")
