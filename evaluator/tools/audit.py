"""Audit an incident log against the guidance: what was notifiable, what was notified, when, to whom.

`irmer audit LOG` evaluates every incident of an employer's log (every
incident, notified or not: evaluator/tools/audit_log.py reads it) and checks
what the employer did, recorded in the audit columns `notified_on`,
`report_sent_on`, `notified_codes` and `authority_notified`. Each kind of
finding is a row of `KINDS`: its title, the rule it checks, the guidance it
quotes, the columns it needs, and the action the action plan proposes. The
checks are SQL over the evaluated log (DuckDB), so a log of a million rows
is audited as quickly as it is evaluated. Possible themes are flagged for
judgement, never asserted: incidents that are not notifiable one by one,
similar (the same modality and cause) and close in time (`Options`).

The report (`AuditReport` in audit_model.py, a pydantic model with a published
JSON Schema, docs/schemas/audit.schema.json) follows the clinical-audit layout of a trust's
procedure: title, the standard audited against, method, results (findings and
the annual report's tables), an action plan and the re-audit date.
evaluator/tools/audit_tables.py makes the tables; audit_report.py draws the
charts and writes HTML, markdown and JSON.

>>> import datetime as dt, pyarrow as pa
>>> log = pa.table({"id": ["A", "B"], "jurisdiction": ["Wales"] * 2, "exposure": ["accidental"] * 2,
...                 "discovered_on": ["2025-01-06", "2025-01-06"], "notified_on": ["2025-01-10", None]})
>>> report = audit_table(log, Options(as_of=dt.date(2025, 3, 31)), source="log.csv")
>>> [(f.kind, [i.id for i in f.items]) for f in report.findings]
[('not_notified', ['B'])]
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

from .audit_log import AUDIT_COLUMNS, LogMap, apply_map, evaluate, read_log, read_map
from .audit_model import (ITEMS, Action, AuditReport, Check, Finding, FindingKind, Group, Item, Measure, Method,
                          Period, Quote, Standard, Summary, Table, TableRow, schema)

__all__ = ["KINDS", "AuditError", "AuditReport", "Finding", "FindingKind", "Item", "Options", "Table", "TableRow",
           "audit", "audit_table", "schema"]

ROW = "_irmer_audit_row"
SHOWN_QUOTES = 6  # codes quoted under one finding (the rest are in the criteria)


# ------------------------------------------------------------------ the kinds of finding

@dataclass(frozen=True)
class Kind:
    """A kind of finding: what it checks and quotes, the columns it needs, the action it calls for."""

    title: str
    rule: str
    quotes: tuple[tuple[str, str], ...]  # ("deadline", "notify_by"), ("complementary", "M"), ("text", words),
    # ("codes", ""): the rows of the codes involved
    needs: tuple[str, ...]  # one of these columns must be in the log for the check to run
    action: str
    lead: str
    due_days: int | None  # days after the audit date; None: by the re-audit
    standard: str | None = None  # the standard measured, as the compliance table states it
    population: str | None = None  # SQL over the audit view: the incidents the standard applies to
    judgement: bool = False


# Words of the guidance that the criteria files do not hold: each is in the source text of every shipped
# version (tests/test_audit.py checks them there, verbatim).
PRELIMINARY = ("If the preliminary investigation shows beyond reasonable doubt that the incident meets the specified "
               "criteria for a SAUE, you must notify the appropriate enforcing authority as soon as possible.")
DISCUSS = ("If you cannot submit the report within the expected timeframe, you need to discuss with an inspector "
           "from the appropriate enforcing authority as early as possible.")
AUTHORITIES = "To submit a notification, the appropriate IR(ME)R enforcing authorities are:"
RECORD = "There must be a record of the investigations and what they found."
JUDGEMENT = "However, we rely on employers to use professional judgement to identify themes."
REGARDLESS = "These are notifiable regardless of the doses received by each individual person"
GUIDANCE_WORDS = (PRELIMINARY, DISCUSS, AUTHORITIES, RECORD, JUDGEMENT, REGARDLESS)

CLEAN = "scope AND error IS NULL AND problem IS NULL"  # audited, and every value read

KINDS: dict[str, Kind] = {
    "not_notified": Kind(
        "Notifiable, not notified",
        "the criteria make the incident notifiable and the log records no notification",
        (("deadline", "notify_by"), ("text", PRELIMINARY)),
        ("notified_on", "notified_codes", "authority_notified"),
        "Notify the enforcing authority of each incident now, with the codes it meets; find out why it was "
        "missed and correct the incident procedure.",
        "IR(ME)R incident lead", 7,
        "Every notifiable incident is notified", f"{CLEAN} AND notifiable"),
    "late_notification": Kind(
        "Notified late",
        "notified after notify_by (2 weeks after discovery)",
        (("deadline", "notify_by"),),
        ("notified_on",),
        "Review the path from discovery to notification of each incident (preliminary investigation, sign-off, "
        "submission) and remove the delay.",
        "IR(ME)R incident lead", None,
        "Notified no later than 2 weeks after discovery",
        f"{CLEAN} AND notifiable AND notified_on IS NOT NULL AND notify_by IS NOT NULL"),
    "late_report": Kind(
        "Investigation report late or outstanding",
        "a notified incident's report sent after report_by (12 weeks after discovery), or not sent by then",
        (("deadline", "report_by"), ("text", DISCUSS)),
        ("report_sent_on",),
        "Send each outstanding report; where one cannot be sent in time, discuss it with an inspector of the "
        "enforcing authority; track open investigations against report_by.",
        "IR(ME)R incident lead", 14,
        "The report sent no later than 12 weeks after discovery",
        f"{CLEAN} AND notifiable AND notified AND report_by IS NOT NULL AND "
        "(report_sent_on IS NOT NULL OR {as_of} > report_by)"),
    "codes_differ": Kind(
        "Notified codes differ from the codes met",
        "the codes notified are not the codes the criteria meet",
        (("codes", ""),),
        ("notified_codes",),
        "Review the coding of each incident with a multidisciplinary team (not one person alone) and send the "
        "corrected codes to the enforcing authority.",
        "Medical Physics Expert", 30,
        "The codes notified are the codes the criteria meet",
        f"{CLEAN} AND notifiable IS NOT NULL AND len(notified_codes) > 0"),
    "wrong_authority": Kind(
        "Notified to the wrong authority",
        "the authority notified is not the enforcing authority where the exposure happened",
        (("text", AUTHORITIES),),
        ("authority_notified",),
        "Notify the right enforcing authority of each incident, and correct how the incident system chooses it.",
        "IR(ME)R incident lead", 7,
        "Notified to the enforcing authority where the exposure happened",
        f"{CLEAN} AND authority IS NOT NULL AND authority_notified IS NOT NULL"),
    "undetermined": Kind(
        "Undetermined: facts to collect",
        "the facts recorded do not decide whether the incident is notifiable",
        (("text", PRELIMINARY),),
        (),
        "Collect the facts listed for each incident, decide whether it is notifiable, and record the decision "
        "with the investigation.",
        "Medical Physics Expert", 14,
        "Every incident is decided: notifiable or not", CLEAN),
    "unreadable": Kind(
        "Records that cannot be read",
        "a value of the record cannot be read, so the incident cannot be audited",
        (("text", RECORD),),
        (),
        "Correct each record in the incident system so that it can be audited.",
        "Incident system administrator", 30,
        "Every record can be read", "scope"),
    "possible_theme": Kind(
        "Possible themes, for judgement",
        "incidents not notifiable one by one, of the same modality and cause, at least {min} within {window} days",
        (("complementary", "M"), ("text", REGARDLESS), ("text", JUDGEMENT)),
        (),
        "Review each group at the Medical Exposures Group: decide whether it is a theme; if it is, notify it "
        "under M with the relevant code; record the decision either way.",
        "Medical Exposures Group", 30, judgement=True),
}


@dataclass
class Options:
    """How the log is audited (the command's options)."""

    as_of: dt.date = field(default_factory=dt.date.today)
    since: dt.date | None = None  # the audit period's first day; default: a year before as_of
    criteria: str | None = None
    mapping: str | None = None
    engine: str = "auto"
    theme_window: int = 90
    theme_min: int = 3
    theme_by: tuple[str, ...] = ("modality", "cause")
    re_audit: dt.date | None = None  # default: 6 months after as_of
    title: str = "Clinical audit: notification of significant accidental and unintended exposures"


RE_AUDIT_MONTHS = 6


class AuditError(Exception):
    """Options that do not make an audit (a period that ends before it starts, a theme key not in the log)."""


# ------------------------------------------------------------------ the audit

def audit(path: str, options: Options) -> AuditReport:
    """Audit a log file (CSV, JSON Lines, Parquet). Raises LogError, AuditError or CriteriaError."""
    from ..load import load_vocabulary
    facts = load_vocabulary().facts
    mapping = read_map(options.mapping, facts) if options.mapping else None
    return audit_table(read_log(path), options, source=path, mapping=mapping)


def audit_table(table: Any, options: Options, source: str = "<table>", mapping: LogMap | None = None) -> AuditReport:
    """Audit an Arrow table of incidents (the log's columns)."""
    import pyarrow as pa

    from ..engines.columnar import to_arrow
    from ..load import load_vocabulary
    if not isinstance(table, pa.Table):
        table = to_arrow(table)
    if options.theme_window < 1 or options.theme_min < 2:
        raise AuditError("themes need a window of at least 1 day and at least 2 incidents")
    facts = load_vocabulary().facts
    mapped = apply_map(table, mapping, facts)
    engine = _engine(options.engine, mapped.table.num_rows)
    evaluated = evaluate(mapped.table, options.criteria, mapped.units, engine)
    with _quiet_collector():
        return Auditor(evaluated, mapped.problems, options, source, mapping, engine).report()


@contextlib.contextmanager
def _quiet_collector() -> Any:
    """The cyclic garbage collector paused while the findings are built: a million-row log makes hundreds of
    thousands of small objects, none in a cycle, and the collector's passes over them cost more than the
    rest of the audit (measured: 2.3 s of validation against 0.3 s for 70,000 items)."""
    import gc
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _engine(choice: str, rows: int) -> str:
    from .audit_log import COLUMNAR_FROM
    if choice == "auto":
        return "duckdb" if rows >= COLUMNAR_FROM else "python"
    return choice


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (or earlier), the month's last day when it is shorter.

    >>> add_months(dt.date(2024, 8, 31), 6), add_months(dt.date(2025, 3, 31), -12)
    (datetime.date(2025, 2, 28), datetime.date(2024, 3, 31))
    """
    import calendar
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def periods(options: Options) -> tuple[Period, Period, int]:
    """The audit period, the previous period of the same number of months before it, and that number."""
    start = options.since or add_months(options.as_of, -12) + dt.timedelta(days=1)
    if start > options.as_of:
        raise AuditError(f"the audit period starts on {start}, after the audit date {options.as_of}")
    months = (options.as_of.year - start.year) * 12 + options.as_of.month - start.month + 1
    previous = Period(start=add_months(start, -months), end=start - dt.timedelta(days=1))
    return Period(start=start, end=options.as_of), previous, months


def _q(name: str) -> str:
    """A column name quoted for SQL."""
    return '"' + name.replace('"', '""') + '"'


def _lit(value: Any) -> str:
    """A date or text as an SQL literal."""
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


class Auditor:
    """The checks, as SQL over the evaluated log in DuckDB."""

    def __init__(self, table: Any, problems: Mapping[int, list[str]], options: Options, source: str,
                 mapping: LogMap | None, engine: str):
        import duckdb
        import pyarrow as pa
        self.options, self.source, self.mapping, self.engine = options, source, mapping, engine
        self.period, self.previous, self.months = periods(options)
        self.names = set(table.column_names)
        self.con = duckdb.connect()
        # The row's place, under a name no log uses (the view calls it _row).
        self.con.register("_log", table.append_column(ROW, pa.array(range(table.num_rows), pa.int64())))
        rows = sorted(problems)
        self.con.register("_problems", pa.table({ROW: pa.array(rows, pa.int64()),
                                                 "message": pa.array(["; ".join(problems[r]) for r in rows],
                                                                     pa.string())}))
        self.types = {f.name: f.type for f in table.schema}
        # Computed once (split lists, parsed dates, the period), then read by every check and table.
        self.con.execute(f"CREATE TEMP TABLE audit AS {self._view()}")
        self._authority_table()
        self.guidance = self._guidance()

    # ---------------------------------------------------------- the view every check reads
    def _view(self) -> str:
        import pyarrow as pa
        period, previous, as_of = self.period, self.previous, self.options.as_of
        ident = f"COALESCE(CAST({_q('id')} AS VARCHAR), 'row ' || (_log.{ROW} + 1))" if "id" in self.names \
            else f"'row ' || (_log.{ROW} + 1)"
        day = self._date("discovered_on")
        codes = "[]::VARCHAR[]"
        if "notified_codes" in self.names:
            kind = self.types["notified_codes"]
            column = _q("notified_codes")
            if pa.types.is_list(kind) or pa.types.is_large_list(kind):
                raw = f"list_transform({column}, lambda x: trim(CAST(x AS VARCHAR)))"
            else:
                raw = f"list_transform(regexp_split_to_array(CAST({column} AS VARCHAR), '[;,]'), lambda x: trim(x))"
            codes = f"COALESCE(list_filter({raw}, lambda x: x IS NOT NULL AND x <> ''), []::VARCHAR[])"
        authority = (f"NULLIF(trim(CAST({_q('authority_notified')} AS VARCHAR)), '')"
                     if "authority_notified" in self.names else "NULL::VARCHAR")
        notified = self._date("notified_on")
        report = self._date("report_sent_on")
        notified_any = f"({notified} IS NOT NULL OR len({codes}) > 0 OR {authority} IS NOT NULL)"
        return f"""
            SELECT _log.{ROW} AS _row, {ident} AS id, {day} AS day, notifiable, codes, missing, authority, notify_by, report_by,
                   criteria, error, {notified} AS notified_on, {report} AS report_sent_on,
                   {codes} AS notified_codes, {authority} AS authority_notified, {notified_any} AS notified,
                   {self._modality()} AS modality, {self._cause()} AS cause,
                   {self._text("jurisdiction")} AS jurisdiction,
                   p.message AS problem,
                   CASE WHEN {day} BETWEEN {_lit(period.start)} AND {_lit(as_of)} THEN 'current'
                        WHEN {day} BETWEEN {_lit(previous.start)} AND {_lit(previous.end)} THEN 'previous'
                   END AS period,
                   ({day} IS NULL OR {day} BETWEEN {_lit(period.start)} AND {_lit(as_of)}) AS scope
                   {self._extra_keys()}
            FROM _log LEFT JOIN _problems p ON _log.{ROW} = p.{ROW}"""

    def _date(self, name: str) -> str:
        import pyarrow as pa
        if name not in self.names:
            return "NULL::DATE"
        kind = self.types[name]
        if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
            return f"CAST({_q(name)} AS DATE)"
        return f"TRY_CAST(trim(CAST({_q(name)} AS VARCHAR)) AS DATE)"

    def _text(self, name: str) -> str:
        return f"NULLIF(trim(CAST({_q(name)} AS VARCHAR)), '')" if name in self.names else "NULL::VARCHAR"

    def _modality(self) -> str:
        import pyarrow as pa
        if "modality" not in self.names:
            return "NULL::VARCHAR"
        kind, column = self.types["modality"], _q("modality")
        parts = (f"list_transform({column}, lambda x: lower(trim(x)))" if pa.types.is_list(kind) or
                 pa.types.is_large_list(kind) else
                 f"list_transform(string_split(CAST({column} AS VARCHAR), ';'), lambda x: lower(trim(x)))")
        return f"NULLIF(array_to_string(list_sort(list_distinct(list_filter({parts}, lambda x: x <> ''))), ';'), '')"

    def _cause(self) -> str:
        """The incident's cause, for themes: the log's `cause`, else imaging_cause, else an equipment fault."""
        options = []
        if "cause" in self.names:
            options.append(f"lower({self._text('cause')})")
        if "imaging_cause" in self.names:
            options.append(f"lower({self._text('imaging_cause')})")
        if "equipment_fault" in self.names:
            options.append(f"CASE WHEN lower(CAST({_q('equipment_fault')} AS VARCHAR)) IN ('yes', 'true') "
                           f"THEN 'equipment fault' END")
        return f"COALESCE({', '.join(options)})" if options else "NULL::VARCHAR"

    def _extra_keys(self) -> str:
        """The theme keys that are plain columns of the log (a site, a sub-modality)."""
        extra = [k for k in self.options.theme_by if k not in ("modality", "cause")]
        for key in extra:
            if key not in self.names:
                raise AuditError(f"--theme-by {key}: the log has no column {key}")
        return "".join(f", {self._text(k)} AS {_q('key_' + k)}" for k in extra)

    def _authority_table(self) -> None:
        """Each way the log writes an authority, resolved to the authority's name (or NULL: not one we know)."""
        import pyarrow as pa
        written = [r[0] for r in self.con.execute(
            "SELECT DISTINCT authority_notified FROM audit WHERE authority_notified IS NOT NULL").fetchall()]
        known = authority_forms()
        resolved = [known.get(_fold(text)) for text in written]
        self.con.register("_authorities", pa.table({"written": pa.array(written, pa.string()),
                                                    "resolved": pa.array(resolved, pa.string())}))

    def _guidance(self) -> dict[str, Any]:
        """The checked criteria of each version the log's rows were evaluated under."""
        from ..load import load_criteria
        used = self.con.execute("SELECT criteria, bool_or(scope) FROM audit WHERE criteria IS NOT NULL AND "
                                "(scope OR period = 'previous') GROUP BY 1").fetchall()
        if self.options.criteria:
            chosen = load_criteria(self.options.criteria)
            loaded = {chosen.version: chosen}
        else:
            loaded = {version: load_criteria(version) for version, _ in used}
        self.audited = [version for version, in_scope in used if in_scope and version in loaded]
        # The newest first: its words are the ones quoted when two versions say the same.
        return dict(sorted(loaded.items(), key=lambda item: (item[1].ast.header.in_force or dt.date.min, item[0]),
                           reverse=True))

    # ---------------------------------------------------------- the checks
    def rows(self, sql: str) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def missing_columns(self, kind: Kind) -> str | None:
        if not kind.needs or any(n in self.names for n in kind.needs):
            return None
        return f"the log has no {' or '.join(kind.needs)} column"

    def report(self) -> AuditReport:
        from .. import __version__
        from .audit_tables import tables
        findings, checks = [], []
        for name, kind in KINDS.items():
            why_not = self.missing_columns(kind)
            if name == "possible_theme" and why_not is None:
                why_not = self._theme_unavailable()
            found = None if why_not else CHECKS[name](self, kind)
            rule = self._rule(kind)
            checks.append(Check(kind=name, title=kind.title, rule=rule, performed=why_not is None, why_not=why_not,
                                count=found.count if found else 0))
            if found is not None and found.count:
                findings.append(found)
        re_audit = self.options.re_audit or add_months(self.options.as_of, RE_AUDIT_MONTHS)
        return AuditReport(
            title=self.options.title, audited_on=self.options.as_of, period=self.period,
            previous_period=self.previous, standard=self._standard(), method=self._method(checks),
            summary=self._summary(findings), compliance=self._compliance(checks), findings=findings,
            tables=tables(self), actions=self._actions(findings, re_audit), re_audit_on=re_audit,
            irmer=__version__)

    def _rule(self, kind: Kind) -> str:
        return kind.rule.format(min=self.options.theme_min, window=self.options.theme_window)

    def _theme_unavailable(self) -> str | None:
        if "cause" in self.options.theme_by and not ({"cause", "imaging_cause", "equipment_fault"} & self.names):
            return "the log has no cause, imaging_cause or equipment_fault column to tell similar incidents"
        if "modality" in self.options.theme_by and "modality" not in self.names:
            return "the log has no modality column"
        if "discovered_on" not in self.names:
            return "the log has no discovered_on column"
        return None

    def finding(self, name: str, items: list[dict[str, Any]], quotes: list[Quote] | None = None,
                groups: list[Group] | None = None) -> Finding:
        kind = KINDS[name]
        return Finding(kind=name, title=kind.title, rule=self._rule(kind),
                       quotes=quotes if quotes is not None else self.quotes(kind),
                       count=len(groups) if groups is not None else len(items), items=ITEMS.validate_python(items),
                       groups=groups or [], judgement=kind.judgement)

    def quotes(self, kind: Kind, codes: list[tuple[str, str, str | None]] | None = None) -> list[Quote]:
        """The guidance's words a finding rests on, from each version audited against (each text once);
        `codes` are (version, code, jurisdiction): each code is quoted from the version its incident was
        evaluated under, and from the row for its jurisdiction."""
        out: list[Quote] = []
        seen: set[str] = set()

        def add(text: str | None, where: str, version: str) -> None:
            if text and text not in seen:
                seen.add(text)
                out.append(Quote(text=text, where=where, criteria=version))

        for version, guidance in self.guidance.items():
            if version not in self.audited:
                continue
            ast = guidance.ast
            for what, which in kind.quotes:
                if what == "deadline":
                    for deadline in ast.deadlines:
                        if deadline.name == which:
                            for says in deadline.says:
                                add(says.text, f"deadline {which}", version)
                elif what == "complementary":
                    for item in ast.complementary:
                        if item.code == which:
                            for says in item.says:
                                add(says.text, f"complementary {which}", version)
                elif what == "text":
                    add(which, "the guidance", version)
                elif what == "codes":
                    for used, code, jurisdiction in (codes or [])[:SHOWN_QUOTES]:
                        if used == version:
                            for text, where in code_words(ast, code, jurisdiction):
                                add(text, where, version)
        return out

    # ---------------------------------------------------------- results
    def _standard(self) -> list[Standard]:
        counts = dict(self.con.execute(
            "SELECT criteria, count(*) FROM audit WHERE scope AND criteria IS NOT NULL GROUP BY 1").fetchall())
        out = []
        for version, guidance in self.guidance.items():
            if version not in self.audited:
                continue
            header = guidance.ast.header
            out.append(Standard(version=version, title=header.title, publisher=header.publisher,
                                published=header.published, in_force=header.in_force, source=header.source,
                                incidents=counts.get(version, 0)))
        return out

    def _method(self, checks: list[Check]) -> Method:
        total, current, undated, previous = self.con.execute(
            "SELECT count(*), count(*) FILTER (WHERE period = 'current'), count(*) FILTER (WHERE day IS NULL), "
            "count(*) FILTER (WHERE period = 'previous') FROM audit").fetchone()
        return Method(log=self.source, mapping=self.mapping.path if self.mapping else None, engine=self.engine,
                      criteria=self.options.criteria, rows=total, in_period=current, undated=undated,
                      in_previous_period=previous, other=total - current - undated - previous,
                      columns=[c for c in AUDIT_COLUMNS if c in self.names] + (["cause"] if "cause" in self.names
                                                                               else []),
                      theme_by=list(self.options.theme_by), theme_window_days=self.options.theme_window,
                      theme_min=self.options.theme_min, checks=checks)

    def _summary(self, findings: list[Finding]) -> Summary:
        audited, notifiable, notified, undetermined, unreadable = self.con.execute(
            "SELECT count(*), count(*) FILTER (WHERE notifiable AND problem IS NULL), "
            "count(*) FILTER (WHERE notified), "
            "count(*) FILTER (WHERE notifiable IS NULL AND error IS NULL AND problem IS NULL), "
            "count(*) FILTER (WHERE error IS NOT NULL OR problem IS NOT NULL) FROM audit WHERE scope").fetchone()
        flagged = {i.row for f in findings if not KINDS[f.kind].judgement for i in f.items}
        return Summary(audited=audited, notifiable=notifiable, notified=notified, undetermined=undetermined,
                       unreadable=unreadable, with_findings=len(flagged))

    def _compliance(self, checks: list[Check]) -> list[Measure]:
        out = []
        for check in checks:
            kind = KINDS[check.kind]
            if not check.performed or kind.population is None:
                continue
            condition = kind.population.replace("{as_of}", _lit(self.options.as_of))
            (of,) = self.con.execute(f"SELECT count(*) FROM audit WHERE {condition}").fetchone()
            out.append(Measure(kind=check.kind, standard=kind.standard or kind.title, met=of - check.count, of=of))
        return out

    def _actions(self, findings: list[Finding], re_audit: dt.date) -> list[Action]:
        out = []
        for found in findings:
            kind = KINDS[found.kind]
            due = re_audit if kind.due_days is None else min(
                re_audit, self.options.as_of + dt.timedelta(days=kind.due_days))
            out.append(Action(kind=found.kind, finding=found.title, incidents=len({i.row for i in found.items}),
                              action=kind.action, lead=kind.lead, due=due))
        return out


# ------------------------------------------------------------------ one function per check

ITEM = "_row, id, day, criteria"  # the columns every item reads


def _item(row: Mapping[str, Any], detail: str, **extra: Any) -> dict[str, Any]:
    """An Item's fields (the finding validates them all at once: a million-row log has many items)."""
    return {"id": row["id"], "row": row["_row"] + 1, "discovered_on": row.get("day"), "detail": detail,
            "criteria": row.get("criteria"), **extra}


def _days(count: int) -> str:
    return f"{count} day{'s' if abs(count) != 1 else ''}"


def check_not_notified(auditor: Auditor, kind: Kind) -> Finding:
    as_of = auditor.options.as_of
    rows = auditor.rows(f"SELECT {ITEM}, codes, notify_by, authority FROM audit WHERE {CLEAN} AND notifiable AND NOT notified "
                        "ORDER BY day, _row")
    items = []
    for row in rows:
        deadline = row["notify_by"]
        late = (as_of - deadline).days if deadline else None
        when = ("no discovery date, so no deadline can be told" if deadline is None else
                f"notify by {deadline}: {_days(late)} overdue" if late > 0 else
                f"notify by {deadline}: still in time")
        codes = f"meets code{'s' if len(row['codes']) > 1 else ''} {', '.join(row['codes'])}"
        items.append(_item(row, f"{codes}; {when}", codes=row["codes"], deadline=deadline,
                           days_late=late, authority=row["authority"]))
    return auditor.finding("not_notified", items)


def check_late_notification(auditor: Auditor, kind: Kind) -> Finding:
    rows = auditor.rows(f"SELECT {ITEM}, codes, notify_by, notified_on FROM audit WHERE {CLEAN} AND notifiable "
                        "AND notified_on > notify_by "
                        "ORDER BY day, _row")
    items = [_item(r, f"notified on {r['notified_on']}, {_days((r['notified_on'] - r['notify_by']).days)} after "
                      f"notify_by {r['notify_by']}", codes=r["codes"], deadline=r["notify_by"],
                   done_on=r["notified_on"], days_late=(r["notified_on"] - r["notify_by"]).days) for r in rows]
    return auditor.finding("late_notification", items)


def check_late_report(auditor: Auditor, kind: Kind) -> Finding:
    as_of = _lit(auditor.options.as_of)
    rows = auditor.rows(f"SELECT {ITEM}, codes, report_by, report_sent_on FROM audit WHERE {CLEAN} AND notifiable AND notified "
                        "AND report_by IS NOT NULL "
                        f"AND (report_sent_on > report_by OR (report_sent_on IS NULL AND {as_of} > report_by)) "
                        "ORDER BY day, _row")
    items = []
    for r in rows:
        sent = r["report_sent_on"]
        late = ((sent or auditor.options.as_of) - r["report_by"]).days
        detail = (f"report sent on {sent}, {_days(late)} after report_by {r['report_by']}" if sent else
                  f"report outstanding on {auditor.options.as_of}, {_days(late)} after report_by {r['report_by']}")
        items.append(_item(r, detail, codes=r["codes"], deadline=r["report_by"], done_on=sent, days_late=late))
    return auditor.finding("late_report", items)


def _norm(codes: list[str]) -> list[str]:
    return sorted({c.strip().upper() for c in codes})


def check_codes_differ(auditor: Auditor, kind: Kind) -> Finding:
    rows = auditor.rows(f"SELECT {ITEM}, codes, notified_codes, jurisdiction FROM audit WHERE {CLEAN} AND notifiable IS NOT NULL "
                        "AND len(notified_codes) > 0 "
                        "AND list_sort(list_distinct(list_transform(notified_codes, lambda x: upper(x)))) <> "
                        "list_sort(list_distinct(list_transform(codes, lambda x: upper(x)))) ORDER BY day, _row")
    items, involved = [], []
    for r in rows:
        met, notified = _norm(r["codes"]), _norm(r["notified_codes"])
        unmet = [c for c in notified if c not in met]
        missing = [c for c in met if c not in notified]
        parts = [f"notified {', '.join(r['notified_codes'])}"]
        parts.append(f"the criteria meet {', '.join(r['codes'])}" if r["codes"] else "the criteria meet no code")
        if missing and notified:
            parts.append(f"not notified: {', '.join(missing)}")
        if unmet and met:
            parts.append(f"not met: {', '.join(unmet)}")
        items.append(_item(r, "; ".join(parts), codes=r["codes"], notified_codes=r["notified_codes"]))
        for code in r["codes"] + r["notified_codes"]:
            if (r["criteria"], code, r["jurisdiction"]) not in involved:
                involved.append((r["criteria"], code, r["jurisdiction"]))
    return auditor.finding("codes_differ", items, auditor.quotes(KINDS["codes_differ"], involved))


def check_wrong_authority(auditor: Auditor, kind: Kind) -> Finding:
    rows = auditor.rows(f"SELECT {ITEM}, authority, authority_notified, jurisdiction, w.resolved FROM audit a "
                        "JOIN _authorities w ON a.authority_notified = w.written "
                        f"WHERE {CLEAN} AND a.authority IS NOT NULL AND w.resolved IS DISTINCT FROM a.authority "
                        "ORDER BY day, _row")
    items = []
    places = {name: place for place, name in authority_places().items()}
    for r in rows:
        said = f"notified {r['authority_notified']}"
        said += (", which is not an IR(ME)R enforcing authority" if r["resolved"] is None else
                 f", the enforcing authority for {places.get(r['resolved'], r['resolved'])}")
        items.append(_item(r, f"{said}; the exposure happened in {r['jurisdiction']}, whose enforcing authority is "
                              f"{r['authority']}", authority=r["authority"], authority_notified=r["authority_notified"]))
    return auditor.finding("wrong_authority", items)


def check_undetermined(auditor: Auditor, kind: Kind) -> Finding:
    rows = auditor.rows(f"SELECT {ITEM}, missing FROM audit WHERE {CLEAN} AND notifiable IS NULL ORDER BY day, _row")
    items = [_item(r, f"collect {', '.join(r['missing'])}" if r["missing"] else
                   "undetermined: the facts recorded do not decide it", missing=r["missing"]) for r in rows]
    return auditor.finding("undetermined", items)


def check_unreadable(auditor: Auditor, kind: Kind) -> Finding:
    rows = auditor.rows(f"SELECT {ITEM}, error, problem FROM audit WHERE scope AND (error IS NOT NULL OR problem IS NOT NULL) "
                        "ORDER BY day, _row")
    items = [_item(r, "; ".join(p for p in (r["error"], r["problem"]) if p)) for r in rows]
    return auditor.finding("unreadable", items)


def check_possible_theme(auditor: Auditor, kind: Kind) -> Finding:
    """Groups of similar incidents close in time, none notifiable on its own and none notified under M.

    An incident is in a group when at least `theme_min` similar incidents (itself among them) were
    discovered within `theme_window` days of one another; members closer than the window to the next
    are one group. A group is reported when one of its incidents is in the audit period.
    """
    options = auditor.options
    keys = [("modality" if k == "modality" else "cause" if k == "cause" else _q("key_" + k)) for k in options.theme_by]
    key = ", ".join(keys)
    window, least = int(options.theme_window), int(options.theme_min)
    earliest = auditor.period.start - dt.timedelta(days=window)
    sql = f"""
        WITH pool AS (
            SELECT _row, id, day, criteria, {key} FROM audit
            WHERE error IS NULL AND problem IS NULL AND notifiable = false
              AND day BETWEEN {_lit(earliest)} AND {_lit(options.as_of)}
              AND NOT list_has_any(list_transform(notified_codes, lambda x: upper(x[1])), ['M'])
              AND {' AND '.join(f'{k} IS NOT NULL' for k in keys)}),
        ahead AS (
            SELECT *, count(*) OVER (PARTITION BY {key} ORDER BY day
                RANGE BETWEEN CURRENT ROW AND INTERVAL {window} DAYS FOLLOWING) AS n FROM pool),
        members AS (
            SELECT *, max(CASE WHEN n >= {least} THEN 1 ELSE 0 END) OVER (PARTITION BY {key} ORDER BY day
                RANGE BETWEEN INTERVAL {window} DAYS PRECEDING AND CURRENT ROW) AS member FROM ahead),
        runs AS (
            SELECT *, CASE WHEN day - lag(day) OVER (PARTITION BY {key} ORDER BY day, _row) <= {window}
                           THEN 0 ELSE 1 END AS starts FROM members WHERE member = 1),
        groups AS (
            SELECT *, sum(starts) OVER (PARTITION BY {key} ORDER BY day, _row) AS run FROM runs),
        spans AS (
            SELECT *, min(day) OVER (PARTITION BY {key}, run) AS first_day,
                      max(day) OVER (PARTITION BY {key}, run) AS last_day FROM groups)
        SELECT _row, id, day, criteria, {key}, run, last_day FROM spans
        WHERE last_day >= {_lit(auditor.period.start)}
        ORDER BY first_day, {key}, run, day, _row"""
    rows = auditor.rows(sql)
    groups: list[Group] = []
    items: list[dict[str, Any]] = []
    labels = list(options.theme_by)
    current: tuple | None = None
    for r in rows:
        values = tuple(r[k.strip('"')] for k in keys) + (r["run"],)
        if values != current:
            current = values
            groups.append(Group(number=len(groups) + 1, key=dict(zip(labels, values[:-1])), first=r["day"],
                                last=r["last_day"], count=0, incidents=[]))
        group = groups[-1]
        group.count += 1
        group.incidents.append(r["id"])
        items.append(_item(r, "", group=group.number))
    for item in items:
        group = groups[item["group"] - 1]
        described = ", ".join(f"{k} {v}" for k, v in group.key.items())
        item["detail"] = (f"possible theme {group.number}: {described}; {group.count} incidents from {group.first} "
                          f"to {group.last}")
    return auditor.finding("possible_theme", items, groups=groups)


CHECKS = {
    "not_notified": check_not_notified,
    "late_notification": check_late_notification,
    "late_report": check_late_report,
    "codes_differ": check_codes_differ,
    "wrong_authority": check_wrong_authority,
    "undetermined": check_undetermined,
    "unreadable": check_unreadable,
    "possible_theme": check_possible_theme,
}


# ------------------------------------------------------------------ the guidance's words

def _fold(text: str) -> str:
    return " ".join(str(text).lower().split())


def authority_places() -> dict[str, str]:
    """Each jurisdiction's enforcing authority, by name (the latest version's)."""
    from ..catalogue import versions
    from ..load import load_criteria
    out: dict[str, str] = {}
    for info in versions():
        for authority in load_criteria(info.path).ast.authorities:
            out[authority.jurisdiction] = authority.name or authority.jurisdiction
    return out


def authority_forms() -> dict[str, str]:
    """Every way of naming an enforcing authority the audit accepts, folded, to its name in the criteria:
    its name, its name without the abbreviation, the abbreviation, and its jurisdiction.

    >>> forms = authority_forms()
    >>> forms["cqc"], forms["healthcare inspectorate wales"], forms["scotland"]
    ('Care Quality Commission (CQC)', 'Healthcare Inspectorate Wales (HIW)', 'Healthcare Improvement Scotland (HIS)')
    """
    import re

    from ..catalogue import versions
    from ..load import load_criteria
    out: dict[str, str] = {}
    for info in versions():
        for authority in load_criteria(info.path).ast.authorities:
            name = authority.name or authority.jurisdiction
            forms = {name, authority.jurisdiction}
            match = re.match(r"^(.*?)\s*\(([^)]+)\)\s*$", name)
            if match:
                forms |= {match.group(1), match.group(2)}
            if name.lower().startswith("the "):
                forms |= {f[4:] for f in list(forms) if f.lower().startswith("the ")}
            for form in forms:
                out.setdefault(_fold(form), name)
    return out


def code_words(ast: Any, code: str, jurisdiction: str | None = None) -> list[tuple[str, str]]:
    """The guidance's words for a code: its row's category and criteria (a complementary code's category, and
    the row of its suffix); of a code with a row per jurisdiction, the row for `jurisdiction` when given."""
    import re
    out: list[tuple[str, str]] = []
    match = re.match(r"^([A-Za-z])(\d.*)$", code.strip())
    letter, suffix = (match.group(1).upper(), match.group(2)) if match else (None, code.strip())
    if letter:
        for item in ast.complementary:
            if item.code == letter and item.category:
                out.append((item.category.text, f"complementary {letter}"))
    place = _fold(jurisdiction) if jurisdiction else None
    for row in ast.rows:
        if row.jurisdictions and place and place not in {_fold(j) for j in row.jurisdictions}:
            continue
        if row.code.lower() == suffix.lower():
            where = f"code {row.code}" + (f" ({row.label})" if row.label else "")
            if row.category:
                out.append((row.category.text, where))
            out += [(s.text, where) for s in row.says]
    return out
