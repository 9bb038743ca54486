"""Batches of incidents: read as they come, evaluated in order, written as they are decided.

`irmer evaluate` takes one JSON object, a JSON array or JSON Lines, from a file
or standard input. Nothing here holds more than one incident (or, with
``--workers``, a few chunks of them) at a time, so a file of a million
incidents needs no more memory than a file of ten, and every input line gets
exactly one result, in order, whatever is wrong with the others:

- JSON Lines are split on ``\\n`` only: a raw U+2028 or U+0085 inside a string
  is valid JSON, not a line break;
- a line that is not UTF-8, not JSON, nested too deeply, too long, or with a
  key given twice gets a result with its own ``error``; the batch goes on;
- a UTF-8 byte-order mark at the start is skipped;
- results are written so that any text can be (a lone surrogate in an id is
  written as its JSON escape).

>>> import io
>>> source = Source(io.BytesIO(b'{"id": "a"}\\n{"id": "b", "id": "c"}\\nnot json\\n'), "<stdin>")
>>> source.shape, [(item.line, item.error is not None) for item in source]
('lines', [(1, False), (2, True), (3, True)])
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import re
import threading
from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO, Callable, Iterator

# An incident's JSON is at most this many bytes (the largest real one is under 2 kB).
MAX_ITEM_BYTES = 1_000_000
CHUNK = 1 << 16


class InputError(Exception):
    """The input as a whole cannot be read (not JSON at all, a broken array): exit status 2."""


@dataclass
class Item:
    """One incident of the input: its JSON value, or why it could not be read."""

    value: Any = None
    error: str | None = None
    line: int | None = None  # the line it starts on
    ident: Any = None  # with an error: the incident's id, when it could still be told
    raw: bytes | None = None  # a JSON line not yet decoded (with --workers, the workers decode it)

    def decoded(self) -> "Item":
        return self if self.raw is None else decode_line(self.raw, self.line or 0)


class Duplicated:
    """What a JSON object with a key given twice is read as: an error, not a guess."""

    def __init__(self, key: str, ident: Any = None):
        self.key = key
        self.ident = ident  # the object's "id", when it gives one once: its result keeps it

    def message(self) -> str:
        return (f"the key {json.dumps(self.key, ensure_ascii=False)} is given twice in one object; "
                "which value was meant cannot be told")


# Whether the decoder met a key given twice since `fresh()`, on this thread: a value is searched for the
# Duplicated it holds only then, not every incident (the service decodes on several threads at once).
_SEEN = threading.local()


def pairs_object(pairs: list[tuple[str, Any]]) -> Any:
    """The decoder's object_pairs_hook: a dict, or Duplicated for an object with a key given twice (noted on
    this thread, for `checked_if_seen`)."""
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    _SEEN.duplicate = True
    keys: set[str] = set()
    for key, _ in pairs:
        if key in keys:
            ids = [value for name, value in pairs if name == "id"]
            return Duplicated(key, ids[0] if len(ids) == 1 else None)
        keys.add(key)
    raise AssertionError("a dict shorter than its pairs has a key given twice")


def fresh() -> None:
    """Forget, on this thread, that the decoder met a key given twice: call it before each decode."""
    _SEEN.duplicate = False


def checked_if_seen(value: Any) -> "Item":
    """`checked`, searched only when the decoder met a key given twice since `fresh()`."""
    return checked(value) if getattr(_SEEN, "duplicate", True) else Item(value=value)


def _integer(text: str) -> int | Decimal:
    # Python refuses to make an int of more than 4,300 digits; the incident reader says why such a
    # number is refused, so it gets the number as a Decimal.
    return int(text) if len(text) <= 4000 else Decimal(text)


_STRINGS = re.compile(rb'"(?:[^"\\\n]|\\.)*"')


def closes_itself(line: bytes) -> bool:
    """Whether a line closes every bracket it opens (strings aside): a value on its own, though one that
    could not be read (nested too deeply, say), not the start of one written over several lines.

    >>> closes_itself(b"[" * 5000 + b"]" * 5000), closes_itself(b'[{"id": "a]"},'), closes_itself(b"[")
    (True, False, False)
    """
    bare = _STRINGS.sub(b"", line)
    return bare.count(b"[") + bare.count(b"{") == bare.count(b"]") + bare.count(b"}") and \
        bare.rstrip().endswith((b"]", b"}"))


DECODER = json.JSONDecoder(object_pairs_hook=pairs_object, parse_float=Decimal, parse_int=_integer,
                           parse_constant=str)


def parse(text: str) -> Item:
    """One JSON value, or the reason it is not one."""
    fresh()
    try:
        value, end = DECODER.raw_decode(text, _skip(text, 0))
    except json.JSONDecodeError as error:
        return Item(error=f"not valid JSON at column {error.colno}: {error.msg}")
    except RecursionError:
        return Item(error="not valid JSON: nested too deeply")
    if _skip(text, end) != len(text):
        return Item(error=f"not valid JSON at column {end + 1}: extra data after the value")
    return checked_if_seen(value)


def checked(value: Any) -> Item:
    """The value as an Item, or the error of the first object in it (at any depth) with a key given twice,
    with the incident's id when it gives one once.

    >>> item = checked(DECODER.decode('{"id": "A", "theme": {"a": [{"x": 1, "x": 2}]}}'))
    >>> item.error[:21], item.ident
    ('the key "x" is given ', 'A')
    """
    stack = [value]
    while stack:  # depth first, in document order: no recursion, however deep the value
        item = stack.pop()
        if type(item) is Duplicated:
            ident = value.ident if type(value) is Duplicated else value.get("id") if type(value) is dict else None
            return Item(error=item.message(), ident=ident)
        if type(item) is dict:
            stack.extend(reversed(list(item.values())))
        elif type(item) is list:
            stack.extend(reversed(item))
    return Item(value=value)


def _is_incident_shaped(value: Any) -> bool:
    """A JSON object (or another whole value that is not just a number or a word a broken line leaves)."""
    return isinstance(value, (dict, list))


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def not_utf8(raw: bytes, error: UnicodeDecodeError) -> str:
    """Why a line is not UTF-8, where in it (the columnar engines word a JSON line's error the same way).

    >>> try:
    ...     b"ab\\xff".decode("utf-8")
    ... except UnicodeDecodeError as error:
    ...     not_utf8(b"ab\\xff", error)
    'not valid UTF-8: byte 0xff at column 3'
    """
    return f"not valid UTF-8: byte 0x{raw[error.start]:02x} at column {error.start + 1}"


def decode_line(raw: bytes, number: int) -> Item:
    """One line of JSON Lines: its value, or why it cannot be read."""
    if len(raw) > MAX_ITEM_BYTES:
        return Item(error=f"line {number} is longer than {MAX_ITEM_BYTES:,} bytes", line=number)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Item(error=not_utf8(raw, error), line=number)
    item = parse(text.rstrip("\r\n"))
    item.line = number
    return item


class Source:
    """The incidents of one input, streamed: `shape` is "object", "array" or "lines"."""

    def __init__(self, stream: BinaryIO, name: str, lines: bool = False):
        """With `lines`, the input is JSON Lines whatever its first line looks like: nothing is read ahead,
        so each incident piped in is answered before the next arrives."""
        if not hasattr(stream, "peek"):
            stream = io.BufferedReader(stream)  # type: ignore[arg-type]
        self.stream = stream
        self.defer = False  # see `deferred`
        self.name = name
        self.line = 1
        self._head()
        if lines:
            self.shape = "lines"
            self._items = self._lines(None)
            return
        # One line alone may be one incident, the first of JSON Lines, or the start of a value written
        # over several lines (an array, a pretty-printed object): what follows tells.
        first = self.stream.readline(MAX_ITEM_BYTES + 1)
        item = self._decode_line(first, self.line)
        if item.error is None:
            if self._peek_content():
                self.shape = "lines"
                self._items = self._lines(item)
            elif isinstance(item.value, list):
                self.shape = "array"
                self._items = self._elements(item.value)
            else:
                self.shape = "object"
                self._items = iter([item])
            return
        if first.lstrip().startswith(b"[") and not (closes_itself(first) and self._peek_content()):
            # An array over several lines: streamed element by element. (A line that closes what it opens,
            # with more lines after it, is the first line of JSON Lines.)
            self.shape = "array"
            self._items = self._array(first)
            return
        # Not a value on its own: JSON Lines whose first lines are broken, when a later line is an
        # incident on its own; else one value over several lines.
        # Lines read ahead past the size limit (or one line over it) cannot be one value within the
        # limit: they are JSON Lines, each refused or read on its own. A line over the limit is kept
        # as a marker (None), not in memory.
        pending: list[bytes | None] = [first]
        size = len(first)
        if size > MAX_ITEM_BYTES and not first.endswith(b"\n"):
            while first and not first.endswith(b"\n"):
                first = self.stream.readline(CHUNK)
            self.shape = "lines"
            self._items = self._lines_after([None])
            return
        while True:
            raw = self.stream.readline(MAX_ITEM_BYTES + 1)
            if not raw:
                break
            if len(raw) > MAX_ITEM_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                    raw = self.stream.readline(CHUNK)
                pending.append(None)
                size = MAX_ITEM_BYTES + 1
            else:
                pending.append(raw)
                size += len(raw)
            candidate = None
            if pending[-1] is not None and raw.strip():
                candidate = self._decode_line(raw, self.line + len(pending) - 1)
            if size > MAX_ITEM_BYTES or (candidate is not None and candidate.error is None
                                         and isinstance(candidate.value, dict)):
                self.shape = "lines"
                self._items = self._lines_after(pending)
                return
        self.shape = "object"
        self._items = iter([self._whole(b"".join(pending) + self.stream.read(MAX_ITEM_BYTES + 1))])

    def __iter__(self) -> Iterator[Item]:
        return self._items

    def deferred(self) -> "Source":
        """From here on, lines are handed out undecoded (Item.raw), for worker processes to decode."""
        self.defer = True
        return self

    # ------------------------------------------------------------- reading
    def _head(self) -> bytes:
        """Skip a byte-order mark and blank space; the first byte of content, not consumed."""
        if self.stream.peek(3)[:3].startswith(codecs.BOM_UTF8):
            self.stream.read(3)
        while True:
            byte = self.stream.peek(1)[:1]
            if not byte:
                raise InputError(f"{self.name}: no incidents: the input is empty")
            if byte in b" \t\r\n":
                if byte == b"\n":
                    self.line += 1
                self.stream.read(1)
                continue
            return byte

    def _peek_content(self) -> bool:
        """Whether anything but blank space follows (without consuming it)."""
        while True:
            data = self.stream.peek(1)
            if not data:
                return False
            stripped = data.lstrip(b" \t\r\n")
            if stripped:
                return True
            # Only blank space in the buffer: consume it, keeping count of the lines.
            self.line += data.count(b"\n")
            self.stream.read(len(data))

    def _decode_line(self, raw: bytes, number: int) -> Item:
        if self.defer:
            return Item(raw=raw, line=number)
        return decode_line(raw, number)

    def _lines(self, first: Item | None) -> Iterator[Item]:
        number = self.line  # the line before the next one read (blank lines read ahead are counted in it)
        if first is not None:
            yield first
        else:
            number -= 1
        while True:
            raw = self.stream.readline(MAX_ITEM_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_ITEM_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                    raw = self.stream.readline(CHUNK)
                yield Item(error=f"line {number} is longer than {MAX_ITEM_BYTES:,} bytes", line=number)
                continue
            if not raw.strip():
                continue
            yield self._decode_line(raw, number)

    def _lines_after(self, pending: list[bytes | None]) -> Iterator[Item]:
        """JSON Lines whose first lines were read ahead: those, then the rest."""
        number = self.line - 1
        for raw in pending:
            number += 1
            if raw is None:
                yield Item(error=f"line {number} is longer than {MAX_ITEM_BYTES:,} bytes", line=number)
            elif raw.strip():
                yield self._decode_line(raw, number)
        self.line = number + 1
        yield from self._lines(None)

    def _elements(self, values: list[Any]) -> Iterator[Item]:
        for index, value in enumerate(values, 1):
            item = checked(value)
            item.line = index
            yield item

    def _whole(self, raw: bytes) -> Item:
        if len(raw) > MAX_ITEM_BYTES:
            raise InputError(f"{self.name}: a single incident is longer than {MAX_ITEM_BYTES:,} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"{self.name}: not valid UTF-8: byte 0x{raw[error.start]:02x} at offset "
                             f"{error.start}") from None
        try:
            value = DECODER.decode(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{self.name}:{error.lineno + self.line - 1}:{error.colno}: not valid JSON: "
                             f"{error.msg}") from None
        except RecursionError:
            raise InputError(f"{self.name}: not valid JSON: nested too deeply") from None
        item = checked(value)  # a whole object or array, searched whatever the decoder met
        item.line = self.line
        return item

    def _array(self, first: bytes) -> Iterator[Item]:
        """The elements of a JSON array, one at a time, from a buffer that holds about one of them.
        `first` is its first line, already read."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            buffer = decoder.decode(first)
        except UnicodeDecodeError:
            raise InputError(f"{self.name}: not valid UTF-8 in the array") from None
        buffer = buffer[buffer.index("[") + 1:]
        at_end = False

        def more() -> bool:
            nonlocal buffer, at_end
            if at_end:
                return False
            data = self.stream.read(CHUNK)
            try:
                buffer += decoder.decode(data, final=not data)
            except UnicodeDecodeError:
                raise InputError(f"{self.name}: not valid UTF-8 in the array") from None
            at_end = not data
            return True

        position, expect_value = 0, True
        count = 0
        column = 2  # of the buffer's first character, on line self.line (the [ is taken as column 1)

        def where(at: int) -> str:
            newlines = buffer.count("\n", 0, at)
            if newlines:
                return f"{self.name}:{self.line + newlines}:{at - buffer.rfind(chr(10), 0, at)}"
            return f"{self.name}:{self.line}:{column + at}"

        while True:
            position = _skip(buffer, position)
            while position >= len(buffer):
                if not more():
                    raise InputError(f"{self.name}: the array is not closed with ]")
                position = _skip(buffer, position)
            char = buffer[position]
            if char == "]" and (count == 0 or not expect_value):
                return
            if not expect_value:
                if char != ",":
                    raise InputError(f"{where(position)}: not valid JSON: expected , or ] after element {count}")
                position, expect_value = position + 1, True
                continue
            while True:
                fresh()
                try:
                    value, end = DECODER.raw_decode(buffer, position)
                    break
                except json.JSONDecodeError as error:
                    if len(buffer) - position > MAX_ITEM_BYTES:
                        raise InputError(f"{where(position)}: element {count + 1} is longer than "
                                         f"{MAX_ITEM_BYTES:,} bytes or not valid JSON") from None
                    if not more():
                        raise InputError(f"{where(error.pos)}: not valid JSON: {error.msg}") from None
                except RecursionError:
                    raise InputError(f"{where(position)}: not valid JSON: element {count + 1} is nested too "
                                     "deeply") from None
            count += 1
            item = checked_if_seen(value)
            item.line = count
            yield item
            newlines = buffer.count("\n", 0, end)
            if newlines:
                self.line += newlines
                column = end - buffer.rfind("\n", 0, end)
            else:
                column += end
            buffer, position, expect_value = buffer[end:], 0, False


# ------------------------------------------------------------- the version of each incident

class Versions:
    """Which version of the guidance evaluates each incident: a fixed one, or the one in force on the
    day it was discovered (else the latest). Looked up without touching the disk per incident."""

    def __init__(self, load: Callable[[Any], Any], fixed: str | None, catalogue: list[Any]):
        self.load = load
        self.fixed = load(fixed) if fixed else None
        self.catalogue = catalogue
        self.starts = [info.in_force or dt.date.min for info in catalogue]  # the catalogue's own order
        self.engines: dict[Any, Any] = {}
        self.days: dict[str, Any] = {}

    def engine(self, info: Any) -> Any:
        if info.path not in self.engines:
            self.engines[info.path] = self.load(info.path)
        return self.engines[info.path]

    def pick(self, incident: Any) -> tuple[Any, list[str]]:
        if self.fixed is not None:
            return self.fixed, []
        discovered = incident.get("discovered_on") if isinstance(incident, dict) else None
        if isinstance(discovered, str) and discovered:
            if discovered not in self.days:
                if len(self.days) > 100_000:
                    self.days.clear()
                self.days[discovered] = self._on(discovered)
            return self.days[discovered]
        return self.engine(self.catalogue[-1]), []

    def _on(self, text: str) -> tuple[Any, list[str]]:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return self.engine(self.catalogue[-1]), []  # reading the incident reports the bad date
        index = bisect_right(self.starts, day) - 1
        if index < 0:
            earliest = self.catalogue[0]
            return self.engine(earliest), [
                f"discovered on {day}, before the earliest version we hold ({earliest.version}, in force from "
                f"{earliest.in_force}); evaluated under it"]
        return self.engine(self.catalogue[index]), []


# ------------------------------------------------------------------- evaluating and writing

@dataclass
class Options:
    """How a batch is evaluated and written."""

    criteria: str | None = None
    output: str = "json"  # json or text
    explain: bool = False
    shape: str = "lines"


def evaluate_item(item: Item, versions: Versions, options: Options) -> Any:
    """The result of one item of the input (never raises): a plain dict for JSON output (the compiled
    engine's, in the Result's shape), a Result when it is explained or shown to people."""
    if item.error is not None:
        from .engines.compiled import error_document  # imported in the branches: not on every incident's path
        from .prepared import incident_id
        problem = {"field": f"line {item.line}" if item.line else "incident", "message": item.error, "hint": None}
        ident = incident_id({"id": item.ident}) if item.ident is not None else None
        return _shown(error_document(ident, None, [problem]), options)
    if not isinstance(item.value, dict):
        from .engines.compiled import error_document
        problem = {"field": "incident", "message": f"an incident is a JSON object, not {json_type(item.value)}",
                   "hint": None}
        return _shown(error_document(None, None, [problem]), options)
    prepared, notes = versions.pick(item.value)
    if options.explain or options.output == "text":  # the explaining engine: text shows what decided
        result = prepared.evaluate(item.value, explain=True)
        if notes:
            result.notes = notes + result.notes
        return result
    document = prepared.document(item.value)
    if notes:
        document["notes"] = notes + document["notes"]
    return document


def _shown(document: dict[str, Any], options: Options) -> Any:
    if options.explain or options.output == "text":
        from .result import Result
        return Result(**document)
    return document


def failed(result: Any) -> bool:
    return (result["error"] if isinstance(result, dict) else result.error) is not None


def json_type(value: Any) -> str:
    """What a JSON value is, in words: 'an array', 'a number' (for the error of an incident that is not an object)."""
    return {list: "an array", str: "a string", bool: "true or false", type(None): "null"}.get(
        type(value), "a number")


def _iso(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


# One encoder a shape, made once: json.dumps with any argument of its own builds a new encoder per call.
_ENCODERS = {(shape, ascii): json.JSONEncoder(ensure_ascii=ascii, indent=None if shape == "lines" else 2,
                                              default=_iso)
             for shape in ("lines", "array", "object") for ascii in (False, True)}


def render(result: Any, options: Options) -> str:
    """One result as JSON, as the output's shape writes it (without the trailing newline).

    >>> print(render({"id": "A", "notifiable": True}, Options(shape="array")))
      {
        "id": "A",
        "notifiable": true
      }
    """
    return encoded(result, options).decode("utf-8")


def encoded(result: Any, options: Options) -> bytes:
    """`render`'s text as the UTF-8 that `irmer evaluate` writes (encoded once, where it is written).

    >>> encoded({"id": "A\\ud800", "notifiable": True}, Options())  # a lone surrogate is written as its escape
    b'{"id": "A\\\\ud800", "notifiable": true}'
    """
    if isinstance(result, dict):
        document = result
    else:
        document = result.model_dump(mode="json", exclude=None if options.explain else {"explanation"})
    try:
        data = _ENCODERS[options.shape, False].encode(document).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in the input: write it as its escape
        data = _ENCODERS[options.shape, True].encode(document).encode("utf-8")
    if options.shape == "array":
        data = b"\n".join(b"  " + line for line in data.split(b"\n"))
    return data


def evaluate_chunk(items: list[Item], options: Options) -> list[tuple[Any, bool]]:
    """Evaluate and render a chunk of items, in a worker process (see `results`)."""
    versions = _worker_versions(options.criteria)
    out = []
    for item in items:
        result = evaluate_item(item.decoded(), versions, options)
        out.append((encoded(result, options) if options.output == "json" else result, failed(result)))
    return out


_VERSIONS: dict[Any, Versions] = {}


def _worker_versions(criteria: str | None) -> Versions:
    if criteria not in _VERSIONS:
        _VERSIONS[criteria] = make_versions(criteria)
    return _VERSIONS[criteria]


def make_versions(criteria: str | None) -> Versions:
    from .catalogue import versions
    from .prepared import prepare
    return Versions(prepare, criteria, versions())


def results(source: Source, options: Options, workers: int = 1,
            chunk: int = 256) -> Iterator[tuple[Any, bool]]:
    """(rendered result, had an error) for each item, in input order, as they are decided.

    The criteria are loaded before the first result, so that bad criteria stop the
    command before anything is written (CriteriaError).
    """
    versions = _worker_versions(options.criteria)
    return _results(source, options, versions, workers, chunk)


def _results(source: Source, options: Options, versions: Versions, workers: int,
             chunk: int) -> Iterator[tuple[Any, bool]]:
    if workers <= 1:
        for item in source:
            result = evaluate_item(item, versions, options)
            yield (encoded(result, options) if options.output == "json" else result), failed(result)
        return
    import itertools
    from concurrent.futures import ProcessPoolExecutor
    from collections import deque
    items = iter(source.deferred())  # the workers decode the lines: the reading process only splits them
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        while True:
            # Keep a few chunks in flight per worker: enough to keep them busy, never the whole input.
            while len(pending) < 2 * workers:
                batch = list(itertools.islice(items, chunk))
                if not batch:
                    break
                pending.append(pool.submit(evaluate_chunk, batch, options))
            if not pending:
                return
            yield from pending.popleft().result()
