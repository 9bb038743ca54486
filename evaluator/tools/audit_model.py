"""The audit report as data: pydantic models, and the JSON Schema published as docs/schemas/audit.schema.json.

evaluator/tools/audit.py fills an `AuditReport`; evaluator/tools/audit_report.py
writes it as HTML, markdown or JSON. The layout is the clinical-audit
procedure's: title, the standard audited against, method, results (findings,
practice against each standard, the annual report's tables), an action plan
and the re-audit date.

>>> schema()["$id"], sorted(schema()["properties"])[:4]
('https://irmer.example/schemas/audit.schema.json', ['actions', 'audited_on', 'compliance', 'findings'])
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

SCHEMA_ID = "https://irmer.example/schemas/audit.schema.json"


class Quote(BaseModel):
    """The guidance's own words, verbatim, and where they are."""

    text: str
    where: str = Field(description="the part of the guidance: 'deadline notify_by', 'code 2.1', 'complementary M', "
                                   "'the guidance' (its prose)")
    criteria: str = Field(description="the version of the guidance quoted")


class Item(BaseModel):
    """One incident under a finding."""

    id: str
    row: int = Field(description="the incident's data row in the log, from 1 (the header excluded)")
    discovered_on: dt.date | None = None
    detail: str = Field(description="what is wrong, in a sentence")
    criteria: str | None = None
    codes: list[str] = Field(default_factory=list, description="the codes the criteria meet")
    notified_codes: list[str] = Field(default_factory=list)
    deadline: dt.date | None = Field(default=None, description="notify_by or report_by, as the finding says")
    done_on: dt.date | None = Field(default=None, description="notified_on or report_sent_on")
    days_late: int | None = Field(default=None, description="days after the deadline (as of the audit date when "
                                                            "not done); negative: days left")
    missing: list[str] = Field(default_factory=list, description="the facts that would decide an undetermined one")
    authority: str | None = Field(default=None, description="the enforcing authority for the incident")
    authority_notified: str | None = None
    group: int | None = Field(default=None, description="the possible theme it belongs to (1, 2, ...)")


ITEMS = TypeAdapter(list[Item])


class Group(BaseModel):
    """A possible theme: similar incidents, close in time, none notifiable on its own."""

    number: int
    key: dict[str, str]
    first: dt.date
    last: dt.date
    count: int
    incidents: list[str]


FindingKind = Literal["not_notified", "late_notification", "late_report", "codes_differ", "wrong_authority",
                      "undetermined", "unreadable", "possible_theme"]


class Finding(BaseModel):
    kind: FindingKind
    title: str
    rule: str = Field(description="what the audit checked, in our words")
    quotes: list[Quote]
    count: int = Field(description="incidents (for possible themes: groups)")
    items: list[Item]
    groups: list[Group] = Field(default_factory=list)
    judgement: bool = Field(default=False, description="flagged for judgement, not asserted")


class Period(BaseModel):
    start: dt.date
    end: dt.date


class Standard(BaseModel):
    """A version of the guidance the incidents were audited against."""

    version: str
    title: str | None = None
    publisher: str | None = None
    published: dt.date | None = None
    in_force: dt.date | None = None
    source: str | None = None
    incidents: int = Field(description="incidents of the audit period evaluated under it")


class Check(BaseModel):
    kind: FindingKind
    title: str
    rule: str
    performed: bool
    why_not: str | None = None
    count: int = 0


class Method(BaseModel):
    log: str
    mapping: str | None = None
    engine: str = Field(description="python (the compiled engine, row by row) or duckdb (the columnar engine)")
    criteria: str | None = Field(default=None, description="the version chosen for every incident, or None: the "
                                                           "version in force on each one's discovered_on")
    rows: int
    in_period: int = Field(description="incidents discovered in the audit period")
    undated: int = Field(description="incidents without a discovery date (audited, not in the tables)")
    in_previous_period: int
    other: int = Field(description="incidents before the previous period or after the audit date: not audited")
    columns: list[str] = Field(description="the audit columns the log has")
    theme_by: list[str]
    theme_window_days: int
    theme_min: int
    checks: list[Check]


class Summary(BaseModel):
    audited: int = Field(description="incidents in the audit period, and those without a date")
    notifiable: int
    notified: int
    undetermined: int
    unreadable: int
    with_findings: int = Field(description="incidents with at least one finding (themes excluded)")


class TableRow(BaseModel):
    key: str
    previous_key: str | None = None
    current: list[int]
    previous: list[int]


class Table(BaseModel):
    """A table like the annual report's: a count per key, this period and the previous one beside it."""

    name: str
    title: str
    key: str
    columns: list[str]
    rows: list[TableRow]
    note: str | None = None


class Measure(BaseModel):
    """How far practice met one standard: `met` of `of` incidents (the target is all of them)."""

    kind: FindingKind
    standard: str
    met: int
    of: int
    target: int = Field(default=100, description="per cent")


class Action(BaseModel):
    kind: FindingKind
    finding: str
    incidents: int
    action: str
    lead: str
    due: dt.date


class AuditReport(BaseModel):
    """An audit of an incident log: the clinical-audit layout (title, standard, method, results, action plan,
    re-audit date)."""

    title: str
    audited_on: dt.date
    period: Period
    previous_period: Period
    standard: list[Standard]
    method: Method
    summary: Summary
    compliance: list[Measure]
    findings: list[Finding]
    tables: list[Table]
    actions: list[Action]
    re_audit_on: dt.date
    irmer: str = Field(description="the version of irmer that wrote the report")


def schema() -> dict[str, Any]:
    """The JSON Schema of the JSON report (docs/schemas/audit.schema.json)."""
    out = AuditReport.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **out}
