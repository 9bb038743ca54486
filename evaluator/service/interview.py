"""The interview page: a person describes an incident step by step, and is asked only what would decide it.

The page is a form. Each time it changes, the service evaluates what it holds
(with the explanation) and renders the page again from its templates
(evaluator/pages/templates/interview*.html): the verdict as it stands, the
next question (the first fact of the result's `missing`, in the vocabulary's
order, unless the person said they do not know it), the other facts that would
also decide, and, once decided, the codes in the regulator's words, the
authority and how to reach it, both deadlines as dates, the advice, where else
the incident goes (routes), the judgement defaults that decide it (assumed), and
a summary to print or copy into the notification form. A small script
(static/interview.js) sends the form as it changes and swaps the page's
content; without it, the form posts and the whole page comes back.

The form's fields are the vocabulary's facts by name; a quantity also has
NAME__unit. Buttons say what to do next: `_skip=FACT` (not known), `_unskip=FACT`,
`_clear=FACT`, `_ask=FACT` (answer this one next).

>>> from evaluator.service.decide import Decider
>>> form = Form.parse(b"jurisdiction=England&exposure=accidental&total_dose=8&total_dose__unit=mSv")
>>> view = interview(form, Decider(), request_id="doc", path="/interview")[0]
>>> view.verdict.state, [code.code for code in view.verdict.codes], view.next
('notifiable', ['1'], None)
>>> view = interview(Form.parse(b"jurisdiction=England&exposure=accidental"), Decider(), request_id="doc",
...                  path="/interview")[0]
>>> view.verdict.state, view.next.name, [field.name for field in view.also]
('undetermined', 'age', ['total_dose'])
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

from ..language.altunits import PAIR
from ..language.units import BOOL, ENUM, KINDS, SET

# How each kind of fact is asked: a widget, and how the form's text becomes the incident's value.
# Quantities (kinds with units) are asked as a number and a unit.
WIDGETS = {ENUM: "choice", SET: "choices", BOOL: "yesno", "count": "count", "ratio": "number", "date": "date",
           "text": "text"}
YES_NO = {"yes": True, "no": False}
ACTIONS = ("_skip", "_unskip", "_clear", "_ask")
MAX_FIELDS = 2000  # the page sends one or two a fact, and one a fact not known


def widget(kind: str) -> str:
    spec = KINDS.get(kind)
    if spec is not None and spec.units:
        return "quantity"
    return WIDGETS.get(kind, "text")


def _quantity(values: list[str], unit: str | None) -> Any:
    number = _first(values)
    return None if number is None else f"{number} {unit}" if unit else number


READERS: dict[str, Callable[[list[str], str | None], Any]] = {
    "choice": lambda values, unit: _first(values),
    "choices": lambda values, unit: [v for v in values if v] or None,
    "yesno": lambda values, unit: YES_NO.get(_first(values) or ""),
    "quantity": _quantity,
    "count": lambda values, unit: _first(values),
    "number": lambda values, unit: _first(values),
    "date": lambda values, unit: _first(values),
    "text": lambda values, unit: _first(values),
}


def _first(values: list[str]) -> str | None:
    for value in values:
        if value.strip():
            return value.strip()
    return None


def label(name: str) -> str:
    """`total_dose` -> `Total dose`."""
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


# ----------------------------------------------------------------------------- the form

@dataclass
class Form:
    """What the page's form holds: the answers as given, and what the person said about the rest."""

    values: dict[str, list[str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    ask: str | None = None
    ident: str = ""
    criteria: str | None = None

    @classmethod
    def parse(cls, body: bytes) -> "Form":
        """A form posted as application/x-www-form-urlencoded, its buttons applied."""
        try:
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:  # more fields than the page ever sends
            from .decide import Refused
            raise Refused(400, f"the form has more than {MAX_FIELDS:,} fields", "send the interview page's form") \
                from None
        values: dict[str, list[str]] = {}
        for key, value in pairs:
            values.setdefault(key, []).append(value)
        form = cls(values={k: v for k, v in values.items() if not k.startswith("_")},
                   unknown=list(dict.fromkeys(values.get("_unknown", []))),
                   ident=(_first(values.get("_id", [])) or "")[:200],
                   criteria=_first(values.get("_criteria", [])))
        for fact in values.get("_skip", []):
            if fact not in form.unknown:
                form.unknown.append(fact)
            form.drop(fact)
        for fact in values.get("_unskip", []):
            form.unknown = [f for f in form.unknown if f != fact]
            form.ask = fact
        for fact in values.get("_clear", []):
            form.drop(fact)
        if values.get("_ask"):
            form.ask = values["_ask"][-1]
        return form

    def drop(self, fact: str) -> None:
        self.values.pop(fact, None)
        self.values.pop(fact + "__unit", None)

    def given(self, name: str) -> bool:
        return any(v.strip() for v in self.values.get(name, []))


# ----------------------------------------------------------------------------- the view

@dataclass
class Field:
    """One fact as the page asks it."""

    name: str
    label: str
    widget: str
    kind: str  # the vocabulary's kind, in words
    help: list[str] = field(default_factory=list)  # the vocabulary's notes
    says: list[str] = field(default_factory=list)  # the regulator's words, where the vocabulary quotes them
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    units: list[str] = field(default_factory=list)
    unit: str | None = None
    value: str = ""
    chosen: list[str] = field(default_factory=list)
    default: str | None = None
    error: str | None = None
    minimum: str | None = None

    @property
    def shown(self) -> str:
        """The answer in words, as the summary writes it."""
        if self.widget == "choices":
            return ", ".join(dict(self.options).get(v, v) for v in self.chosen)
        if self.widget in ("choice", "yesno"):
            return dict(self.options).get(self.value, self.value)
        return f"{self.value} {self.unit}" if self.widget == "quantity" and self.unit else self.value


@dataclass
class Code:
    """A code the incident meets, in the regulator's words."""

    code: str
    category: str | None
    says: list[str]
    reasons: list[str]
    role: str | None = None
    table: str | None = None


@dataclass
class Verdict:
    state: str  # notifiable, not-notifiable, undetermined, error
    headline: str
    codes: list[Code] = field(default_factory=list)
    possible: list[str] = field(default_factory=list)  # codes still undetermined
    errors: list[str] = field(default_factory=list)


@dataclass
class View:
    """Everything the interview templates show."""

    form: Form
    result: Any
    verdict: Verdict
    about: list[Field]
    next: Field | None
    also: list[Field]
    answered: list[Field]
    unknown: list[Field]
    assumed: list[Field]
    versions: list[Any]
    criteria: str | None
    digest: str | None = None  # the SHA-256 of the criteria file that decided
    summary: str = ""

    @property
    def notify_by(self) -> str | None:
        return long_date(self.result.notify_by)

    @property
    def report_by(self) -> str | None:
        return long_date(self.result.report_by)


def long_date(day: dt.date | None) -> str | None:
    """`2024-10-21` -> `Monday 21 October 2024 (2024-10-21)`."""
    if day is None:
        return None
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')} ({day.isoformat()})"


def _field(info: Any, form: Form, says: dict[str, list[str]], errors: dict[str, str]) -> Field:
    kind_widget = widget(info.kind)
    spec = KINDS.get(info.kind)
    values = form.values.get(info.name, [])
    made = Field(name=info.name, label=label(info.name), widget=kind_widget, kind=info.describe(),
                 help=list(info.notes), says=says.get(info.name, []), error=errors.get(info.name))
    if kind_widget in ("choice", "choices"):
        made.options = [(v, v.replace("_", " ")) for v in info.values]
    elif kind_widget == "yesno":
        made.options = [("yes", "yes"), ("no", "no")]
    if kind_widget == "quantity":
        made.units = units_of(info.name, spec)
        chosen = _first(form.values.get(info.name + "__unit", []))
        made.unit = chosen if chosen in made.units else (info.unit or spec.display_unit or spec.units[0])
        made.kind = f"{spec.description} ({', '.join(spec.units)})"
    made.chosen = [v for v in values if v]
    made.value = _first(values) or ""
    if info.has_default:
        default = info.default
        made.default = ({True: "yes", False: "no"}.get(default, str(default)) if isinstance(default, bool)
                        else str(default).replace("_", " "))
    if info.minimum is not None:
        made.minimum = str(info.minimum)
    return made


# The alternative quantities the form offers for intended_dose and total_dose (language/altunits.py): the
# usual unit of each.
ALTERNATIVE_UNITS = ("Gy cm2", "mGy cm2", "mGy cm", "mGy CTDIvol", "mGy air kerma")


def units_of(name: str, spec: Any) -> list[str]:
    """The units a quantity's question offers: its kind's, and for the pair of doses the alternative ones."""
    return list(spec.units) + (list(ALTERNATIVE_UNITS) if name in PAIR else [])


def incident_of(form: Form, facts: dict[str, Any]) -> dict[str, Any]:
    """The incident the form describes (what the person has given, nothing more)."""
    incident: dict[str, Any] = {}
    if form.ident:
        incident["id"] = form.ident
    for name, info in facts.items():
        kind_widget = widget(info.kind)
        if not form.given(name) and kind_widget != "choices":
            continue
        unit = None
        if kind_widget == "quantity":
            spec = KINDS[info.kind]
            chosen = _first(form.values.get(name + "__unit", []))
            unit = chosen if chosen in units_of(name, spec) else (info.unit or spec.display_unit)
        value = READERS[kind_widget](form.values.get(name, []), unit)
        if value is not None:
            incident[name] = value
    return incident


def _verdict(result: Any) -> Verdict:
    if result.error is not None:
        problems = result.errors or [result.error]
        return Verdict("error", "These answers cannot be read yet",
                       errors=[f"{label(p.field)}: {p.message}" + (f" ({p.hint})" if p.hint else "")
                               for p in problems])
    met = [c for c in result.explanation if c.outcome == "met"]
    codes = []
    for code in result.codes:
        # A complementary code is its letter and the suffix of the row it goes with: M4.2c is M with 4.2c.
        letter = None if code[:1].isdigit() else next((c for c in result.complementary if code.startswith(c)), None)
        key = letter or code
        entry = next((c for c in met if c.code == key), None) or next((c for c in met if c.code == code), None)
        codes.append(Code(code, entry.category if entry else None, list(entry.says) if entry else [],
                          list(entry.reasons) if entry else [], entry.role if entry else None,
                          entry.table if entry else None))
    possible = list(dict.fromkeys(c.code for c in result.explanation if c.outcome == "undetermined"))
    if result.notifiable is True:
        return Verdict("notifiable", "Notifiable", codes, possible)
    if result.notifiable is False:
        return Verdict("not-notifiable", "Not notifiable", codes, possible)
    count = len(result.missing)
    headline = f"Not decided yet: {count} fact{'s' if count != 1 else ''} would decide it" if count else \
        "Not decided"
    return Verdict("undetermined", headline, codes, possible)


def interview(form: Form, decider: Any, *, request_id: str, path: str) -> tuple[View, bytes]:
    """The page's view of a form, and the decision's line for the log."""
    from ..load import load_vocabulary
    vocabulary = load_vocabulary()
    facts = vocabulary.facts
    says = {fact.name: [t.text for t in fact.says] for fact in vocabulary.ast.facts}
    if form.criteria is not None:
        try:
            criteria = decider.version(form.criteria).version
        except Exception:  # noqa: BLE001 - an unknown version in a form: evaluate by date instead
            criteria = None
    else:
        criteria = None
    incident = incident_of(form, facts)
    result, line = decider.decide_incident(incident, criteria, request_id=request_id, path=path)
    errors = {p.field: p.message for p in result.errors}
    if result.error is not None and result.error.field not in errors:
        errors[result.error.field] = result.error.message
    order = {name: index for index, name in enumerate(facts)}

    def make(name: str) -> Field:
        return _field(facts[name], form, says, errors)

    missing = sorted((m for m in result.missing if m in facts), key=order.__getitem__)
    open_ = [m for m in missing if m not in form.unknown]
    if form.ask in open_:
        open_.remove(form.ask)
        open_.insert(0, form.ask)
    about = [make("discovered_on")] if "discovered_on" in facts else []
    answered = [make(name) for name in facts
                if name != "discovered_on" and name not in open_ and (form.given(name) or name in errors)]
    unknown = [make(name) for name in form.unknown if name in facts and not form.given(name)]
    assumed = [make(name) for name, info in facts.items()
               if info.has_default and not form.given(name) and name not in open_ and name not in form.unknown]
    view = View(form=form, result=result, verdict=_verdict(result), about=about,
                next=make(open_[0]) if open_ else None, also=[make(name) for name in open_[1:]],
                answered=answered, unknown=unknown, assumed=assumed, versions=decider.catalogue,
                criteria=criteria, digest=decider.digests.get(result.criteria or ""))
    view.summary = summary(view)
    return view, line


def summary(view: View) -> str:
    """The printable summary: what to copy into the notification form."""
    from ..pages import environment
    return environment().get_template("interview_summary.txt").render(view=view).strip() + "\n"
