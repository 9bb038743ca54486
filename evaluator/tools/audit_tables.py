"""The annual report's tables for an audited log: incidents and notifications by code, modality, authority,
month and cause, this period with the previous one beside it.

The CQC IR(ME)R annual report counts notifications by modality and by where in
the pathway they arose, this year beside last year. An employer's log holds
every incident, so each table here counts three things per key and period:
the incidents, those the criteria make notifiable, and those notified (the
code table: incidents meeting the code, and incidents notified with it).
Each table is one SQL query over the audit's view (evaluator/tools/audit.py).
An incident of several modalities is counted under each of them.
"""

from __future__ import annotations

import datetime as dt

from .audit import Auditor, add_months
from .audit_model import Table, TableRow

MEASURES = ["incidents", "notifiable", "notified"]
COUNTS = ("count(*) AS incidents, count(*) FILTER (WHERE notifiable) AS notifiable, "
          "count(*) FILTER (WHERE notified) AS notified")
NOT_RECORDED = "not recorded"
SHOWN_CAUSES = 12  # the commonest causes get a row each; the rest share one


def tables(auditor: Auditor) -> list[Table]:
    """Every table, in the order the report shows them (TABLES)."""
    return [table for make in TABLES if (table := make(auditor)) is not None]


def _counts(auditor: Auditor, key: str, source: str = "audit", width: int = 3,
            measures: str = COUNTS) -> dict[str, dict[str, list[int]]]:
    """{key: {"current": [...], "previous": [...]}} for the incidents of both periods."""
    out: dict[str, dict[str, list[int]]] = {}
    sql = f"SELECT {key} AS key, period, {measures} FROM {source} WHERE period IS NOT NULL GROUP BY ALL"
    for row in auditor.con.execute(sql).fetchall():
        name = NOT_RECORDED if row[0] is None else str(row[0])
        entry = out.setdefault(name, {"current": [0] * width, "previous": [0] * width})
        entry[row[1]] = [entry[row[1]][i] + row[2 + i] for i in range(width)]
    return out


def _rows(counts: dict[str, dict[str, list[int]]], order: list[str], width: int = 3) -> list[TableRow]:
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order and k != NOT_RECORDED)
    if NOT_RECORDED in counts:
        keys.append(NOT_RECORDED)
    return [TableRow(key=k, current=counts[k]["current"], previous=counts[k]["previous"]) for k in keys]


# The code a notified or met code is counted under: a complementary code (M2.1) under its letter.
CODE_GROUP = ("CASE WHEN regexp_matches(c, '^[A-Za-z][0-9]') THEN upper(c[1]) "
              "WHEN regexp_matches(c, '^[A-Za-z]$') THEN upper(c) ELSE lower(c) END")


def by_code(auditor: Auditor) -> Table:
    met = _counts(auditor, CODE_GROUP, "(SELECT * FROM audit, UNNEST(codes) AS u(c) WHERE error IS NULL)", 1,
                  "count(DISTINCT _row)")
    notified = _counts(auditor, CODE_GROUP, "(SELECT * FROM audit, UNNEST(notified_codes) AS u(c))", 1,
                       "count(DISTINCT _row)")
    order: list[str] = []
    for guidance in auditor.guidance.values():
        order += [row.code for row in guidance.ast.rows] + [item.code for item in guidance.ast.complementary]
    order = list(dict.fromkeys(order))
    both = {k: {p: met.get(k, {}).get(p, [0]) + notified.get(k, {}).get(p, [0]) for p in ("current", "previous")}
            for k in set(met) | set(notified)}
    return Table(name="codes", title="Incidents by notification code", key="Code", columns=["met", "notified"],
                 rows=_rows(both, order, 2),
                 note="met: incidents the criteria make notifiable under the code; notified: incidents notified "
                      "with it. A complementary code (M2.1) is counted under its letter, an incident under each "
                      "of its codes.")


def by_modality(auditor: Auditor) -> Table:
    from ..load import load_vocabulary
    counts = _counts(auditor, "m", "(SELECT *, UNNEST(CASE WHEN modality IS NULL THEN [NULL::VARCHAR] "
                                  "ELSE string_split(modality, ';') END) AS m FROM audit)")
    order = list(load_vocabulary().facts["modality"].values)
    return Table(name="modalities", title="Incidents by modality", key="Modality", columns=MEASURES,
                 rows=_rows(counts, order), note="An incident of several modalities is counted under each.")


def by_authority(auditor: Auditor) -> Table:
    counts = _counts(auditor, "authority")
    order = []
    for guidance in auditor.guidance.values():
        order += [a.name for a in guidance.ast.authorities if a.name]
    return Table(name="authorities", title="Incidents by enforcing authority", key="Authority", columns=MEASURES,
                 rows=_rows(counts, list(dict.fromkeys(order))),
                 note="The authority where the exposure happened (jurisdiction); not recorded: no jurisdiction, or "
                      "a record that cannot be read.")


def by_month(auditor: Auditor) -> Table:
    counts = _counts(auditor, "strftime(day, '%Y-%m')")
    start = auditor.period.start.replace(day=1)
    rows = []
    for n in range(auditor.months):
        month = add_months(start, n)
        before = add_months(month, -auditor.months)
        key, previous_key = month.strftime("%Y-%m"), before.strftime("%Y-%m")
        rows.append(TableRow(key=key, previous_key=previous_key,
                             current=counts.get(key, {}).get("current", [0, 0, 0]),
                             previous=counts.get(previous_key, {}).get("previous", [0, 0, 0])))
    return Table(name="months", title="Incidents by month of discovery", key="Month", columns=MEASURES, rows=rows,
                 note=f"Each month beside the same month of the previous period ({auditor.months} months earlier).")


def by_cause(auditor: Auditor) -> Table | None:
    if not ({"cause", "imaging_cause", "equipment_fault"} & auditor.names):
        return None
    counts = _counts(auditor, "cause")
    ranked = sorted((k for k in counts if k != NOT_RECORDED),
                    key=lambda k: (-sum(counts[k]["current"]) - sum(counts[k]["previous"]), k))
    shown, rest = ranked[:SHOWN_CAUSES], ranked[SHOWN_CAUSES:]
    if rest:
        other = {"current": [0, 0, 0], "previous": [0, 0, 0]}
        for key in rest:
            for period in other:
                other[period] = [a + b for a, b in zip(other[period], counts.pop(key)[period])]
        counts[f"{len(rest)} other causes"] = other
        shown.append(f"{len(rest)} other causes")
    return Table(name="causes", title="Incidents by cause", key="Cause", columns=MEASURES, rows=_rows(counts, shown),
                 note="The log's cause column, else the radiotherapy imaging cause, else an equipment fault.")


TABLES = [by_code, by_modality, by_authority, by_month, by_cause]


def totals(table: Table) -> tuple[list[int], list[int]]:
    """The column sums of a table, this period and the previous one (an incident in several rows counts in each)."""
    width = len(table.columns)
    current = [sum(r.current[i] for r in table.rows) for i in range(width)]
    previous = [sum(r.previous[i] for r in table.rows) for i in range(width)]
    return current, previous


def month_label(key: str) -> str:
    """'2024-04' as 'Apr 2024'."""
    return dt.date.fromisoformat(key + "-01").strftime("%b %Y")
