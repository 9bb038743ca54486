"""Hostile incidents, through the Python API and through `irmer evaluate`.

Every fact of the vocabulary gets values of its own kind written every way a person or a system
might (so that evaluation runs deep) and values that are wrong in every way we could think of:
exponents and digit strings far beyond any dose, digits of other scripts, lone surrogates,
nested structures, wrong types, impossible dates; keys that are unknown, not text, or too many.

The properties:
- `Guidance.evaluate` returns a Result, never raises, never reports a fault of its own
  ("internal error"), within the time bound; a Result always serialises to JSON;
- the compiled engine (with and without the explanation) and the interpreter (`interpret`) give the same
  result;
- `irmer evaluate` on JSON Lines, in-process, with hostile lines among good ones (not JSON,
  duplicate keys, a byte-order mark, U+2028 inside a string, bytes that are not UTF-8, deep
  nesting): one result per line, in order, exit status 0 or 1, no traceback.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator import load_criteria, load_vocabulary
from evaluator.cli import main
from evaluator.language.incident import IncidentError
from evaluator.language.limits import MAX_NUMBER_LENGTH
from evaluator.language.altunits import QUANTITIES as ALTERNATIVES, alternative_unit
from evaluator.language.units import BOOL, ENUM, KINDS, SET, resolve_unit
from evaluator.result import Result

from fuzz import examples
from fuzz.sandbox import SECONDS, Sandbox

FACTS = load_vocabulary().facts
ENVELOPE = ["id", "description", "date_of_birth", "exposure_date"]


@pytest.fixture(scope="module")
def sandbox():
    load_criteria("2023"), load_criteria("2024")  # compiled before the fork: every child has them
    with Sandbox() as box:
        yield box


# ------------------------------------------------------------------ values that cannot cross a pipe

@dataclass(frozen=True)
class Deep:
    """A structure nested `depth` levels deep, built in the child: pickle itself would recurse."""

    depth: int
    shape: str  # "list" or "dict"

    def build(self) -> Any:
        value: Any = "3 mSv"
        for _ in range(self.depth):
            value = [value] if self.shape == "list" else {"x": value}
        return value


@dataclass(frozen=True)
class Huge:
    """An int of `digits` digits, built in the child (no str() of it anywhere in the test)."""

    digits: int

    def build(self) -> int:
        return 10 ** (self.digits - 1)


def materialise(value: Any) -> Any:
    if isinstance(value, (Deep, Huge)):
        return value.build()
    if isinstance(value, dict):
        return {key: materialise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [materialise(item) for item in value]
    return value


# ------------------------------------------------------------------ numbers, written every way

ASCII = "0123456789"
# Digits of other scripts: Python's int(), float() and \d accept them; only ASCII digits are numbers.
OTHER_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹०१२३४५६७८९０１２３４５６７８９𝟎𝟏𝟐𝟑𝟒"

plain_number = st.from_regex(r"[0-9]{1,6}(\.[0-9]{1,6})?", fullmatch=True)
mantissa = st.one_of(
    plain_number, plain_number,
    st.integers(1, 6000).map(lambda n: "1" + "0" * n),               # long digit strings
    st.integers(1, 6000).map(lambda n: "0." + "0" * n + "1"),
    st.integers(25, 40).map(lambda n: "1." + "3" * n),                 # just past the digits bound
    st.text(OTHER_DIGITS, min_size=1, max_size=4),
    st.builds(lambda a, b: a + b, st.text(ASCII, min_size=1, max_size=2), st.text(OTHER_DIGITS, min_size=1, max_size=2)),
    st.sampled_from(["", ".", "1.", ".5", "3,5", "3,000", "1_000", "0x10", "0b1", "½", "²", "nan", "NaN", "inf",
                     "-inf", "Infinity", "1e", "e3", "--1", "1..2", "00000003", "3.", "٫5", "1 000", "1/2", "1e1e1"]),
)
exponent = st.one_of(
    st.just(""), st.just(""),
    st.integers(-40, 40).map(lambda e: f"e{e}"),
    st.integers(-10**12, 10**12).map(lambda e: f"E{e:+d}"),
    st.sampled_from(["e99999999", "e-99999999", "e+4300", "e-9999999", "e0400", "e", "e+", "e٣"]),
)
sign = st.sampled_from(["", "", "", "-", "+", "−"])  # the last is U+2212 MINUS SIGN
number_text = st.builds(lambda s, m, e: s + m + e, sign, mantissa, exponent)
space = st.sampled_from([" ", " ", "", "  ", "\t", "\u00a0", "\u2009", "\n"])

ALL_UNITS = sorted({unit for kind in KINDS.values() for unit in kind.units})
odd_unit = st.sampled_from(["msv", "MSV", "ｍSv", "μSv", "mSv/h", "m Sv", "Sv²", "%", "", "mSv mSv", "mrem", "rad",
                            "rem", "cSv", "nSv", "kSv", "Gy·m", "mGy\u0000", "mSv\ud800", "years old", "yrs", "mo"])
# Doses in an alternative quantity (language/altunits.py), and near misses of their spellings.
ALTERNATIVE_UNITS = sorted({unit for q in ALTERNATIVES.values() for unit, _ in q.units})
alternative_unit_text = st.one_of(st.sampled_from(ALTERNATIVE_UNITS), st.sampled_from([
    "Gy cm3", "Gy·cm²²", "Gycm2", "Gy  ·  cm2", "Gy..cm2", "mGy CTDIvolx", "mGy air\u0000kerma", "mGy ctdi\nvol",
    "µGy m\ud800", "mGy " + "air kerma " * 40, "kGy cm2", "mGy cm²", "mGy·cm·cm"]))


def quantity_text(kind: str) -> st.SearchStrategy[str]:
    units = st.sampled_from(KINDS[kind].units) if KINDS[kind].units else st.just("")
    return st.builds(lambda n, s, u: n + s + u, number_text, space, st.one_of(units, units, st.sampled_from(ALL_UNITS),
                                                                              odd_unit, alternative_unit_text))


json_number = st.one_of(
    st.integers(-10**6, 10**6),
    st.integers(),
    st.integers(1, 6000).map(Huge),
    st.floats(),                                  # nan, inf, 5e-324, 1.7e308 among them
    st.decimals(),                                # as a JSON reader with Decimal floats gives them
    st.sampled_from([Decimal("1e99999999"), Decimal("-1e-99999999"), Decimal("sNaN"), Decimal("1E+4300"),
                     Decimal("0.000"), Decimal("-0")]),
)

# ------------------------------------------------------------------ everything else that is wrong

lone_surrogates = st.sampled_from(["\ud800", "\udfff", "a\udc80b", "\ud83d", "3 mSv\udcff"])
hostile_text = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(min_codepoint=0xD700, max_codepoint=0xE100, categories=["Cs", "Co", "Lo"]), max_size=6),
    lone_surrogates,
    st.sampled_from(["", " ", "\u2028", "\u0085", "\x00", "\ufeff", "null", "None", "undefined", "[]", "{}",
                     "'; DROP TABLE incidents; --", "<script>", "%s%s%s", "{0}", "\\", "\""]),
    st.integers(1000, 100_000).map(lambda n: "a" * n),
)
hostile_date = st.one_of(
    st.dates().map(dt.date.isoformat),
    st.dates(),
    st.datetimes(),
    st.sampled_from(["2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "0000-01-01", "0001-01-01", "9999-12-31",
                     "9999-10-09", "10000-01-01", "1899-12-31", "2200-01-01", "20241007", "2024-W41-1", "2024-281",
                     "2024-10-07T10:00", "2024-10-07 ", " 2024-10-07", "2024/10/07", "07/10/2024", "２０２４-１０-０７",
                     "2024-1-7", "+2024-10-07", "2024-10-07Z", "today", ""]),
    st.sampled_from([20241007, 1728259200, 2024.10, -1]),
)
wrong_type = st.one_of(
    st.none(), st.booleans(), json_number, hostile_text, hostile_date,
    st.builds(Deep, st.sampled_from([2, 50, 999, 1001, 5000, 100_000]), st.sampled_from(["list", "dict"])),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                 max_leaves=8),
)


def good_value(name: str) -> st.SearchStrategy[Any]:
    """A value of the fact's own kind, in one of the ways it may rightly be written."""
    info = FACTS[name]
    if info.kind == BOOL:
        return st.sampled_from([True, False, "yes", "no", "Y", "n", "true", "FALSE"])
    if info.kind in (ENUM, SET):
        value = st.sampled_from(info.values)
        variant = st.one_of(value, value.map(str.upper), value.map(lambda v: v.replace("_", " ")),
                            value.map(lambda v: f" {v} "))
        if info.kind == ENUM:
            return variant
        return st.one_of(variant, st.lists(variant, min_size=1, max_size=4))
    if info.kind == "date":
        return st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat)
    if info.kind == "count":
        return st.one_of(st.integers(0, 20), st.integers(0, 20).map(str))
    units = KINDS[info.kind].units
    amount = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
    text = st.builds(lambda a, u: f"{a.normalize():f} {u}", amount, st.sampled_from(units))
    if info.unit:  # a bare number is in the fact's unit (age: years)
        return st.one_of(text, st.integers(0, 120), amount.map(float))
    return text


def hostile_value(name: str) -> st.SearchStrategy[Any]:
    info = FACTS[name]
    numeric = info.kind in KINDS and KINDS[info.kind].numeric
    own = st.one_of(quantity_text(info.kind), number_text) if numeric else st.nothing()
    listed = st.lists(st.sampled_from(info.values or ("x",)), max_size=3) if info.kind in (ENUM, SET) else st.nothing()
    return st.one_of(good_value(name), own, own, listed, wrong_type)


hostile_key = st.one_of(
    st.text(max_size=30), lone_surrogates,
    st.sampled_from(["", " total_dose", "Total_Dose", "total-dose", "totl_dose", "patient_name", "__proto__", "0",
                     "id\u0000", "jurisdiction\u200b"]),
)
api_key = st.one_of(hostile_key, st.integers(), st.none(), st.just(("a", 1)), st.booleans())  # not text: only in Python

# A valid context first (so evaluation gets past scope), then facts with hostile values.
context = st.fixed_dictionaries({}, optional={
    "jurisdiction": st.sampled_from(FACTS["jurisdiction"].values),
    "exposure": st.sampled_from(FACTS["exposure"].values),
    "modality": st.sampled_from(FACTS["modality"].values),
    "discovered_on": st.just("2024-10-07"),
})


def facts(value: Any) -> st.SearchStrategy[dict[str, Any]]:
    names = st.lists(st.sampled_from(sorted(FACTS) + ENVELOPE), unique=True, min_size=1, max_size=8)
    return names.flatmap(lambda keys: st.fixed_dictionaries({key: value(key) for key in keys}))


def envelope_value(key: str) -> st.SearchStrategy[Any]:
    return hostile_date if key in ("date_of_birth", "exposure_date") else st.one_of(hostile_text, wrong_type)


def any_value(key: str) -> st.SearchStrategy[Any]:
    return hostile_value(key) if key in FACTS else envelope_value(key)


def incidents(keys: st.SearchStrategy = hostile_key) -> st.SearchStrategy[dict]:
    extra = st.dictionaries(keys, wrong_type, max_size=3)
    many = st.integers(90, 400).map(lambda n: {f"field_{i}": i for i in range(n)})  # around the field bound
    return st.one_of(
        st.builds(lambda c, f, e: {**c, **f, **e}, context, facts(any_value), extra),
        st.builds(lambda c, f: {**c, **f}, context, facts(lambda key: good_value(key) if key in FACTS
                                                           else envelope_value(key))),
        st.builds(lambda c, m: {**c, **m}, context, many),
    )


# ------------------------------------------------------------------ the Python API (in the child)

def evaluate_in_child(version: str, incident: Any) -> dict:
    """Evaluate with each engine; check what a Result promises; return both, as JSON values."""
    incident = materialise(incident)
    guidance = load_criteria(version)
    out = {}
    for engine, explain in (("compiled", False), ("explained", True)):
        result = guidance.evaluate(incident, explain=explain)
        assert isinstance(result, Result), f"{engine}: not a Result: {result!r}"
        assert (result.error is None) == (result.errors == []), f"{engine}: error and errors disagree: {result}"
        if result.error is not None:
            assert not result.error.message.startswith("internal error"), f"{engine}: {result.error}"
            assert all(e.message for e in result.errors), result.errors
        assert result.criteria == guidance.version
        out[engine] = json.loads(json.dumps(result.model_dump(mode="json")))  # JSON values, whatever the text
    out["interpreter"] = json.loads(json.dumps(guidance.interpret(incident).model_dump(mode="json")))
    return out


def serialise_in_child(version: str, incident: Any) -> str:
    """The Result's own JSON, as an API user would write it."""
    return load_criteria(version).evaluate(materialise(incident)).model_dump_json()


def not_a_mapping_in_child(version: str, incident: Any) -> dict:
    result = load_criteria(version).evaluate(materialise(incident))
    assert result.error is not None and not result.error.message.startswith("internal error"), result
    return json.loads(result.model_dump_json())


VERSIONS = st.sampled_from(["2023", "2024"])


@pytest.mark.parametrize("keys", [
    pytest.param(hostile_key, id="text-keys"),
    pytest.param(api_key, id="any-keys"),
])
@settings(max_examples=examples(100))
@given(data=st.data(), version=VERSIONS)
def test_evaluate_returns_a_result(sandbox, keys, data, version):
    incident = data.draw(incidents(keys), label="incident")
    sandbox.call(evaluate_in_child, version, incident)


@settings(max_examples=examples(100))
@given(incident=incidents(), version=VERSIONS)
def test_both_engines_agree(sandbox, incident, version):
    both = sandbox.call(evaluate_in_child, version, incident)
    compiled, explained, interpreter = both["compiled"], both["explained"], both["interpreter"]
    assert explained == interpreter
    interpreter["explanation"] = []
    assert compiled == interpreter


@pytest.mark.parametrize("text", [
    pytest.param(st.text(max_size=12), id="text"),
    pytest.param(hostile_text, id="hostile-text"),
])
@settings(max_examples=examples(30))
@given(data=st.data(), version=VERSIONS)
def test_a_result_writes_itself_as_json(sandbox, text, data, version):
    """Whatever text an incident carries, in its id, its description or a value quoted in a message."""
    texts = st.dictionaries(st.sampled_from(["id", "description", "total_dose", "jurisdiction", "patient"]), text,
                            max_size=3)
    incident = data.draw(st.builds(lambda c, t: {**c, **t}, context, texts), label="incident")
    json.loads(sandbox.call(serialise_in_child, version, incident))


@settings(max_examples=examples(20))
@given(value=st.one_of(wrong_type, st.lists(st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))),
       version=VERSIONS)
def test_evaluate_what_is_not_an_incident(sandbox, value, version):
    if isinstance(value, dict):
        value = [value]  # a dict would be an incident
    sandbox.call(not_a_mapping_in_child, version, value)


# ------------------------------------------------------------------ numbers: exact, or refused

# A number is ASCII digits with an optional point and exponent; the reference below reads one
# exactly, without the reader's code, and says when it is beyond the bounds the reader may
# refuse (evaluator/language/limits.py: 30 significant digits, exponent within ±30).
NUMBER_SHAPE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?", re.ASCII)


def reference(text: str) -> tuple[str, Fraction | None]:
    """("malformed", None), ("beyond", None) or ("number", its exact value)."""
    match = NUMBER_SHAPE.fullmatch(text)
    if not match or not (match.group(2) or match.group(3)):
        return "malformed", None
    sign, whole, fraction, exponent = match.group(1), match.group(2), match.group(3) or "", match.group(4)
    digits = (whole + fraction).lstrip("0")
    if len(text) > MAX_NUMBER_LENGTH or len(exponent or "") > 6 or len(digits) > 30:
        return "beyond", None
    power = int(exponent or 0) - len(fraction)
    size = len(digits) + power - 1  # the power of ten of the first significant digit
    if digits and not -30 <= size <= 30:
        return "beyond", None
    value = Fraction(int(digits or "0")) * Fraction(10) ** power
    return "number", -value if sign == "-" else value


QUANTITIES = [("total_dose", "mSv"), ("total_dose", "uSv"), ("foetal_dose", "mGy"), ("prescribed_activity", "GBq"),
              ("miss_displacement", "mm"), ("age", "weeks"), ("total_dose", "Gy cm2"), ("total_dose", "mGy·cm²"),
              ("total_dose", "mGy CTDIvol")]


def factor_of(unit: str) -> Fraction:
    found = alternative_unit(unit)
    return found[1] if found else resolve_unit(unit)[1]


def read_in_child(version: str, fact: str, text: str, unit: str = "") -> tuple[str, str | None]:
    """How each engine reads one quantity: ("value", exact value as text), or ("refused", message). A dose in
    an alternative quantity comes with an intended dose of 1 in the same unit (a pair, kept as it was given)."""
    guidance = load_criteria(version)
    incident = {"jurisdiction": "England", "exposure": "accidental", "modality": "diagnostic", fact: text}
    pair = alternative_unit(unit) is not None
    if pair:
        incident["intended_dose"] = f"1 {unit}"
    result = guidance.evaluate(incident)
    assert result.error is None or not result.error.message.startswith("internal error"), result.error
    try:
        read = guidance.read(incident)
    except IncidentError as error:
        assert result.error is not None, f"the interpreter refuses {text!r} ({error}), the compiled engine reads it"
        return "refused", str(error)
    assert result.error is None, f"the interpreter reads {text!r}, the compiled engine refuses it: {result.error}"
    if pair and fact in read.alternative:
        return "value", str(read.alternative[fact].value)
    return "value", str(read.values[fact].value)


@settings(max_examples=examples(100))
@given(version=VERSIONS, quantity=st.sampled_from(QUANTITIES), number=st.one_of(number_text, plain_number))
def test_numbers_are_read_exactly_or_refused(sandbox, version, quantity, number):
    fact, unit = quantity
    outcome, shown = sandbox.call(read_in_child, version, fact, f"{number} {unit}", unit)
    shape, value = reference(number)
    if shape == "malformed" or (shape == "number" and value < 0):
        assert outcome == "refused", f"{number!r} is not a number we read, but it was read as {shown}"
    elif shape == "number":
        assert outcome == "value", f"{number!r} is {value}, but it was refused: {shown}"
        assert Fraction(shown) == value * factor_of(unit), f"{number!r} {unit} was read as {shown}"


# ------------------------------------------------------------------ the CLI on JSON Lines (in the child)

def run_cli(args: list[str], data: bytes) -> tuple[int, bytes, bytes, str | None]:
    result = CliRunner().invoke(main, args, input=data, catch_exceptions=True)
    crash = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback
        crash = "".join(traceback.format_exception(result.exception))
    return result.exit_code, result.stdout_bytes, result.stderr_bytes, crash


def json_line(incident: dict, ident: str, ascii_only: bool) -> bytes:
    """One incident as a line of JSON. Numbers JSON can write but json.dumps cannot (a Decimal, an int
    of 5,000 digits) go in as their text; a lone surrogate, unless escaped, becomes bytes that are
    not UTF-8."""
    raw: dict[str, str] = {}

    def number(value: Any) -> str:
        token = f"@@number{len(raw)}@@"
        raw[json.dumps(token)] = value
        return token

    values = {}
    for key, value in {**incident, "id": ident}.items():
        if isinstance(value, Decimal):
            value = number(str(value) if value.is_finite() else "NaN")
        elif isinstance(value, Huge):
            value = number("9" * value.digits)
        values[key] = value
    text = json.dumps(values, ensure_ascii=ascii_only, default=str)
    for token, number_text in raw.items():
        text = text.replace(token, number_text)
    return text.encode("utf-8", "surrogatepass")


def text_keys(incident: dict) -> dict:
    return {str(key): value for key, value in incident.items()}


# Lines that are not an incident: each gets a result with an error, in its place.
refused_line = st.one_of(
    st.sampled_from([b"not json", b"{", b"}", b'{"id": "x",}', b"[1, 2", b"nul", b"NaN", b"'single'", b'{"a" 1}',
                     b'"just a string"', b"42", b"[]", b"null", b"true", b"\x00", b"{}{}", b'{"id": 1} trailing',
                     b"\xef\xbb\xbf{}"]),                                        # a byte-order mark mid-stream
    st.integers(2, 200_000).map(lambda n: b"[" * n + b"]" * n),                 # nesting
    st.integers(2, 200_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(4301, 6000).map(lambda n: b'{"individuals": ' + b"9" * n + b"}"),  # an int Python refuses to read
    st.sampled_from([b'{"total_dose": "3 mSv", "total_dose": "30 mSv"}',            # a key given twice
                     b'{"modality": ["diagnostic"], "x": {"a": 1, "a": 2}}',
                     b'{"id": "\xff\xfe"}', b"\xc3\x28", b'{"id": "\xed\xa0\x80"}']),  # not UTF-8; a UTF-8 surrogate
)
# Lines that are odd but are incidents (%s: the id): each gets its own result, in its place.
odd_line = st.sampled_from([
    b'{"id": "%s", "description": "a\xe2\x80\xa8b"}', b'{"id": "%s", "description": "a\xc2\x85b"}',  # raw U+2028, U+0085
    b'{"id": "%s", "description": "\\ud800"}', b'{"id": "%s"}\r', b'  {"id": "%s"}  ', b'{"id": "%s"}\t',
    b'{"id": "%s", "total_dose": 3e999999999}', b'{"id": "%s", "age": -0.0e-0}', b'{"id": "%s", "age": NaN}',
    b'{"id": "%s", "modality": []}', b'{"id": "%s", "modality": [[[["diagnostic"]]]]}',
])

@st.composite
def batches(draw, first: str = "incident") -> tuple[bytes, list[str | None]]:
    """JSON Lines: a first line of the shape asked for (by default an object, in ASCII: the reader
    takes the input as JSON Lines when its first line is JSON and more follows), then good and bad
    lines; the ids expected, in order."""
    count = draw(st.integers(1, 12))
    lines, ids = [], []
    for number in range(count + 1):
        ident = f"L{number}"
        shape = draw(st.sampled_from(["incident", "incident", "refused", "odd"]) if number > 0 else st.just(first))
        if shape == "refused":
            # (A byte-order mark is skipped at the start of the input: not a refused first line.)
            lines.append(draw(refused_line.filter(lambda line: number > 0 or not line.startswith(codecs.BOM_UTF8))))
            ids.append(None)
        elif shape == "odd":
            lines.append(draw(odd_line) % ident.encode())
            ids.append(ident)
        else:
            incident = text_keys(draw(incidents()))
            line = json_line(materialise_small(incident), ident, number == 0 or draw(st.booleans()))
            lines.append(line)
            try:
                line.decode("utf-8")
                ids.append(ident)
            except UnicodeDecodeError:  # a raw surrogate: the line is refused before its id is read
                ids.append(None)
    bom = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf"]))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return bom + ending.join(lines) + draw(st.sampled_from([b"", ending])), ids


def materialise_small(incident: dict) -> dict:
    """What a line of JSON can hold: no deeper than json.dumps writes, dates as text."""
    out = {}
    for key, value in incident.items():
        if isinstance(value, Deep):
            value = Deep(min(value.depth, 900), value.shape).build()
        elif isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        out[key] = value
    return out


CRITERIA_OPTION = st.sampled_from([["--criteria", "2023"], ["--criteria", "2024"], []])


@settings(max_examples=examples(40))
@given(batch=batches(), criteria=CRITERIA_OPTION)
def test_the_cli_answers_every_line_in_order(sandbox, batch, criteria):
    check_batch(sandbox, batch, criteria)


@settings(max_examples=examples(10))
@given(batch=batches("odd"), criteria=CRITERIA_OPTION)
def test_an_odd_first_line_loses_nothing(sandbox, batch, criteria):
    check_batch(sandbox, batch, criteria)


@settings(max_examples=examples(10))
@given(batch=batches("refused"), criteria=CRITERIA_OPTION)
def test_a_bad_first_line_loses_nothing(sandbox, batch, criteria):
    """A first line that is not an incident, or not JSON, is one line of JSON Lines like any other
    (when no line at all is JSON, the input is not JSON Lines: exit status 2, said on stderr)."""
    check_batch(sandbox, batch, criteria)


def _opens_an_array(data: bytes) -> bool:
    """The first line starts an array and is not a whole value on its own."""
    first = data.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    if not first.lstrip().startswith(b"["):
        return False
    try:
        json.loads(first)
    except (ValueError, RecursionError):
        return True
    return False


def check_batch(sandbox: Sandbox, batch: tuple[bytes, list[str | None]], criteria: list[str]) -> None:
    data, ids = batch
    code, stdout, stderr, crash = sandbox.call(run_cli, ["evaluate", "--format", "json", *criteria, "-"], data,
                                               seconds=SECONDS * 3)
    assert crash is None, crash
    assert b"Traceback" not in stdout + stderr, stderr.decode("utf-8", "replace")
    if code == 2 and all(ident is None for ident in ids) and stdout == b"":
        assert stderr.strip(), "exit status 2 without a word"
        return
    if code == 2 and _opens_an_array(data):
        # An array written over several lines is streamed element by element; where it breaks, the
        # rest cannot be read: exit 2, saying where (docs/embedding.md, batches).
        assert b"not valid" in stderr or b"not closed" in stderr, stderr
        return
    assert code in (0, 1), (code, stderr.decode("utf-8", "replace")[-2000:])
    results = [json.loads(line) for line in stdout.decode("utf-8").splitlines()]
    assert len(results) == len(ids), f"{len(ids)} lines in, {len(results)} results out"
    for number, (result, ident) in enumerate(zip(results, ids)):
        if ident is not None:
            assert result["id"] == ident, f"line {number + 1}: result for {result['id']!r}"
        else:
            assert result["error"] is not None, f"line {number + 1} is not a good incident: {result}"
    assert code == (1 if any(r["error"] for r in results) else 0)
