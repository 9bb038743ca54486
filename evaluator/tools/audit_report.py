"""The audit report for people and tools: one self-contained HTML page with charts, markdown, JSON.

The page comes from evaluator/pages/templates/audit.html (the shared
stylesheet, nothing fetched); its charts are drawn by matplotlib (the Agg
backend, imported only here) as SVG and written into the page. Markdown has
the same sections and tables, without the charts; JSON is the AuditReport
itself, whose schema is docs/schemas/audit.schema.json.

>>> FORMATS[".md"], FORMATS[".html"], FORMATS[".json"]
('markdown', 'html', 'json')
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from .audit import KINDS
from .audit_model import AuditReport, Table
from .audit_tables import month_label, totals
from .markup import md, md_row

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".json": "json"}
SHOWN_ITEMS = 100  # incidents listed under one finding in HTML and markdown (all of them are in the JSON)
# Colours: this period strong, the previous period light, as the annual report's figures pair the years.
COLOURS = {"current": "#0969da", "previous": "#9ec5f4", "notified": "#bf5700", "notified_previous": "#f6c08f",
           "finding": "#cf222e", "judgement": "#9a6700"}


class ReportError(Exception):
    """A report that cannot be written (an unknown extension, an unwritable file)."""


def format_of(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ReportError(f"{path}: the report's format is chosen by its extension: "
                          f"{', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


def render(report: AuditReport, shape: str) -> str:
    return {"html": html, "markdown": markdown, "json": to_json}[shape](report)


def write(report: AuditReport, path: str) -> None:
    text = render(report, format_of(path))
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise ReportError(f"cannot write {path}: {error}") from None


def to_json(report: AuditReport) -> str:
    return report.model_dump_json(indent=2) + "\n"


def percent(met: int, of: int) -> str:
    """A share as people read it: whole per cent, never rounded up to 100 or down to 0.

    >>> percent(199, 200), percent(1, 300), percent(0, 0)
    ('99%', '1%', '—')
    """
    if of == 0:
        return "—"
    share = 100 * met / of
    if 0 < met < of:
        share = min(max(share, 1), 99)
    return f"{share:.0f}%"


def period_text(period: Any) -> str:
    return f"{period.start:%-d %B %Y} to {period.end:%-d %B %Y}"


# ------------------------------------------------------------------ charts

def _figure(width: float, height: float) -> tuple[Any, Any]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "irmer-audit", "font.size": 9,
                         "font.family": "sans-serif", "axes.spines.top": False, "axes.spines.right": False,
                         "axes.edgecolor": "#57606a", "axes.labelcolor": "#1f2328", "xtick.color": "#1f2328",
                         "ytick.color": "#1f2328", "axes.titlesize": 10, "legend.frameon": False})
    figure, axes = plt.subplots(figsize=(width, height), layout="constrained")
    return figure, axes


def _svg(figure: Any, name: str, label: str) -> str:
    """The figure as inline SVG: no XML prolog, ids made unique in the page, a text alternative."""
    import matplotlib.pyplot as plt
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF names that look like links
    text = re.sub(r'id="([^"]+)"', rf'id="{name}-\1"', text)
    text = re.sub(r'(href|xlink:href)="#([^"]+)"', rf'\1="#{name}-\2"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", text)
    text = text.replace("<svg ", f'<svg role="img" aria-label="{_attr(label)}" ', 1)
    return text


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _table(report: AuditReport, name: str) -> Table | None:
    return next((t for t in report.tables if t.name == name), None)


def chart_modalities(report: AuditReport) -> str | None:
    """Grouped bars: notifiable incidents and notifications by modality, the previous period beside this one."""
    table = _table(report, "modalities")
    rows = [r for r in table.rows if any(r.current[1:]) or any(r.previous[1:])] if table else []
    if not rows:
        return None
    figure, axes = _figure(6.0, 3.4)
    width = 0.2
    series = [("previous", 1, "notifiable, previous period", COLOURS["previous"]),
              ("current", 1, "notifiable, this period", COLOURS["current"]),
              ("previous", 2, "notified, previous period", COLOURS["notified_previous"]),
              ("current", 2, "notified, this period", COLOURS["notified"])]
    for n, (period, column, label, colour) in enumerate(series):
        values = [getattr(r, period)[column] for r in rows]
        positions = [i + (n - 1.5) * width for i in range(len(rows))]
        bars = axes.bar(positions, values, width, label=label, color=colour)
        axes.bar_label(bars, fontsize=7, padding=1)
    axes.set_xticks(range(len(rows)), [r.key.replace("_", "\n") for r in rows])
    axes.set_ylabel("incidents")
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.legend(fontsize=8, ncols=2, loc="outside lower center")
    axes.set_title("Notifiable incidents and notifications by modality")
    return _svg(figure, "modalities", "Bar chart: notifiable incidents and notifications by modality, the previous "
                                      "period beside this one (the numbers are in the table below it)")


def chart_months(report: AuditReport) -> str | None:
    """Lines: incidents, notifiable incidents and notifications by month, with the previous period's incidents."""
    table = _table(report, "months")
    if not table or not table.rows:
        return None
    figure, axes = _figure(6.0, 3.4)
    x = range(len(table.rows))
    lines = [([r.current[0] for r in table.rows], "incidents, this period", COLOURS["current"], "-", "o"),
             ([r.previous[0] for r in table.rows], "incidents, previous period", COLOURS["previous"], "--", "o"),
             ([r.current[1] for r in table.rows], "notifiable, this period", COLOURS["finding"], "-", "s"),
             ([r.current[2] for r in table.rows], "notified, this period", COLOURS["notified"], ":", "^")]
    for values, label, colour, style, marker in lines:
        axes.plot(x, values, style, marker=marker, markersize=3.5, color=colour, label=label, linewidth=1.6)
    axes.set_xticks(list(x), [month_label(r.key) for r in table.rows], rotation=45, ha="right")
    axes.set_ylabel("incidents")
    axes.set_ylim(bottom=0)
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.legend(fontsize=8, ncols=2, loc="outside lower center")
    axes.set_title("Incidents by month of discovery")
    return _svg(figure, "months", "Line chart: incidents, notifiable incidents and notifications by month of "
                                  "discovery, with the previous period's incidents (the numbers are in the table)")


def chart_findings(report: AuditReport) -> str | None:
    """Horizontal bars: incidents under each finding (themes in their own colour: for judgement)."""
    if not report.findings:
        return None
    findings = list(reversed(report.findings))
    figure, axes = _figure(6.0, 0.3 * len(findings) + 1.0)
    values = [len({i.row for i in f.items}) for f in findings]
    colours = [COLOURS["judgement"] if f.judgement else COLOURS["finding"] for f in findings]
    bars = axes.barh([f.title for f in findings], values, color=colours)
    axes.bar_label(bars, fontsize=8, padding=2)
    axes.set_xlabel("incidents")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_title("Incidents under each finding")
    return _svg(figure, "findings", "Bar chart: the number of incidents under each finding (the numbers are in "
                                    "the action plan)")


CHARTS = {"modalities": chart_modalities, "months": chart_months, "findings": chart_findings}


def charts(report: AuditReport) -> dict[str, str]:
    return {name: svg for name, make in CHARTS.items() if (svg := make(report)) is not None}


# ------------------------------------------------------------------ HTML

def html(report: AuditReport) -> str:
    from ..pages import render as page
    return page("audit.html", title=report.title, page="audit-page", report=report, charts=charts(report),
                shown=SHOWN_ITEMS, percent=percent, period_text=period_text, month_label=month_label,
                totals=totals, kinds=KINDS, basics=_basics(report), method=_method_paragraphs(report),
                summary=_summary_sentence(report), reaudit=_reaudit_sentence(report), ep17=EP17,
                ep17_quotes=[EP17_REVIEW, EP17_SECOND], standard_note=_standard_lines(report, str)[-1])


# ------------------------------------------------------------------ markdown

def markdown(report: AuditReport) -> str:
    out: list[str] = [f"# {md(report.title)}", ""]
    out += [md_row(["", ""]), md_row(["---", "---"])]
    for label, value in _basics(report):
        out.append(md_row([f"**{md(label)}**", md(value)]))
    out += ["", "## 1. The standard audited against", ""]
    out += _standard_lines(report, md)
    out += ["", "## 2. Method", ""]
    for paragraph in _method_paragraphs(report):
        out += [md(paragraph), ""]
    out.pop()
    out += ["", md_row(["Check", "What was checked", "Performed"]), md_row(["---", "---", "---"])]
    for check in report.method.checks:
        out.append(md_row([md(check.title), md(check.rule), "yes" if check.performed else f"no: {md(check.why_not)}"]))
    out += ["", "## 3. Results", ""]
    out += [md(_summary_sentence(report)), ""]
    if report.compliance:
        out += [md_row(["Standard", "Target", "Result", "Met"]), md_row(["---", "---:", "---:", "---:"])]
        for m in report.compliance:
            out.append(md_row([md(m.standard), f"{m.target}%", f"{m.met} of {m.of}", percent(m.met, m.of)]))
        out.append("")
    out += ["### Findings", ""]
    if not report.findings:
        out += ["No findings: every check performed was met.", ""]
    for n, found in enumerate(report.findings, 1):
        label = " " + md("(for judgement, not asserted)") if found.judgement else ""
        out += [f"#### 3.{n} {md(found.title)}: {found.count}{label}", "", f"*Checked: {md(found.rule)}.*", ""]
        for quote in found.quotes:
            out.append(f"> {md(quote.text)} — *{md(quote.where)}, {md(quote.criteria)}*")
            out.append(">")
        if found.quotes:
            out[-1] = ""
        if found.groups:
            out += [md_row(["Group", "Similar by", "Incidents", "From", "To", "Ids"]),
                    md_row(["---:", "---", "---:", "---", "---", "---"])]
            for group in found.groups:
                out.append(md_row([group.number, md(", ".join(f"{k}: {v}" for k, v in group.key.items())),
                                   group.count, group.first, group.last, md(", ".join(group.incidents))]))
        else:
            out += [md_row(["Incident", "Row", "Discovered", "Finding"]), md_row(["---", "---:", "---", "---"])]
            for item in found.items[:SHOWN_ITEMS]:
                out.append(md_row([md(item.id), item.row, item.discovered_on or "—", md(item.detail)]))
            if len(found.items) > SHOWN_ITEMS:
                out += ["", f"… and {len(found.items) - SHOWN_ITEMS:,} more (every one is in the JSON report)."]
        out.append("")
    out += ["### Tables", "", md(f"This period: {period_text(report.period)}; the previous period: "
                                 f"{period_text(report.previous_period)}."), ""]
    for table in report.tables:
        out += _markdown_table(report, table)
    out += ["## 4. Action plan", "", md_row(["#", "Finding", "Incidents", "Action", "Lead", "Due by"]),
            md_row(["---:", "---", "---:", "---", "---", "---"])]
    for n, action in enumerate(report.actions, 1):
        out.append(md_row([n, md(action.finding), action.incidents, md(action.action), md(action.lead), action.due]))
    if not report.actions:
        out.append(md_row(["—", "no findings", 0, "no action needed", "—", "—"]))
    out += ["", "## 5. Re-audit", "", md(_reaudit_sentence(report)), ""]
    out += [f"> {md(text)} — *{md(EP17)}*\n>" for text in (EP17_REVIEW, EP17_SECOND)]
    out[-1] = out[-1][:-2]
    out += ["", f"*Written by irmer {md(report.irmer)} from {md(report.method.log)}.*", ""]
    return "\n".join(out)


def _markdown_table(report: AuditReport, table: Table) -> list[str]:
    head = [md(table.key)] + [md(c) for c in table.columns] + [f"previous: {md(c)}" for c in table.columns]
    out = [f"#### {md(table.title)}", "", md_row(head), md_row(["---"] + ["---:"] * (2 * len(table.columns)))]
    for row in table.rows:
        key = month_label(row.key) if table.name == "months" else row.key
        out.append(md_row([md(key)] + row.current + row.previous))
    current, before = totals(table)
    out.append(md_row(["**All**"] + [f"**{v}**" for v in current + before]))
    if table.note:
        out += ["", f"*{md(table.note)}*"]
    return out + [""]


# ------------------------------------------------------------------ words both formats share

def _basics(report: AuditReport) -> list[tuple[str, str]]:
    versions = ", ".join(s.version for s in report.standard) or "none (no incident could be evaluated)"
    return [("Incident log", report.method.log), ("Audit date", f"{report.audited_on:%-d %B %Y}"),
            ("Audit period", period_text(report.period)),
            ("Compared with", period_text(report.previous_period)),
            ("Standard", f"IR(ME)R notification criteria: {versions}"),
            ("Re-audit", f"{report.re_audit_on:%-d %B %Y}")]


def _standard_lines(report: AuditReport, escape: Any) -> list[str]:
    out = []
    for standard in report.standard:
        parts = [f"**{escape(standard.version)}**"]
        if standard.title:
            parts.append(escape(standard.title))
        if standard.publisher:
            parts.append(escape(standard.publisher))
        if standard.in_force:
            parts.append(f"in force from {standard.in_force:%-d %B %Y}")
        out.append(f"- {', '.join(parts)}: {standard.incidents} incident{'s' if standard.incidents != 1 else ''} "
                   "audited against it.")
    out.append("")
    out.append(escape("Each incident is audited against the version of the guidance in force on the day it was "
                      "discovered (an incident without a date: the latest)." if report.method.criteria is None else
                      f"Every incident is audited against {report.method.criteria}, as asked."))
    return out


def _method_paragraphs(report: AuditReport) -> list[str]:
    method = report.method
    engine = {"duckdb": "the columnar engine (SQL on DuckDB)",
              "python": "the compiled engine"}.get(method.engine, method.engine)
    mapping = f", its columns mapped by {method.mapping}" if method.mapping else ""
    missing = [c for c in ("notified_on", "report_sent_on", "notified_codes", "authority_notified")
               if c not in method.columns]
    out = [f"Every incident of {method.log} ({method.rows:,} rows{mapping}) was evaluated by irmer {report.irmer} "
           f"with {engine}; what the employer did is read from the audit columns "
           f"{', '.join(c for c in method.columns if c != 'cause') or '(none)'}"
           + (f" (the log has no {', '.join(missing)})" if missing else "") + ".",
           f"The findings cover the {_count(method.in_period, 'incident')} discovered in the audit period"
           + (f" and {_count(method.undated, 'incident')} without a discovery date" if method.undated else "")
           + f"; the tables set the period beside the previous one ({_count(method.in_previous_period, 'incident')})."
           + (f" {_count(method.other, 'incident')} discovered before the previous period or after the audit date "
              f"{'is' if method.other == 1 else 'are'} not audited." if method.other else ""),
           f"Possible themes: incidents not notifiable one by one, similar by {' and '.join(method.theme_by)}, at "
           f"least {method.theme_min} discovered within {method.theme_window_days} days. They are flagged for the "
           "employer's judgement, not asserted: the guidance leaves themes to professional judgement."]
    return out


def _count(n: int, thing: str) -> str:
    """
    >>> _count(1, "possible theme"), _count(2, "possible theme")
    ('1 possible theme', '2 possible themes')
    """
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def _summary_sentence(report: AuditReport) -> str:
    s = report.summary
    themes = sum(f.count for f in report.findings if f.judgement)
    return (f"{s.audited:,} incidents audited: {s.notifiable:,} notifiable under the criteria, {s.notified:,} "
            f"notified, {s.undetermined:,} undetermined, {s.unreadable:,} that cannot be read; {s.with_findings:,} "
            f"with a finding" + (f", and {_count(themes, 'possible theme')} for judgement." if themes else "."))


# From the trust's procedure the report follows (shared/guidance/dchft-ep17-clinical-audit-procedure.txt).
EP17 = "DCHFT EP17, carrying out of clinical audit"
EP17_REVIEW = "A review date or anticipated timeline of change should also be provided."
EP17_SECOND = "A second report on the progress of actions should be provided to the Employer at a suitable timeframe."


def _reaudit_sentence(report: AuditReport) -> str:
    return (f"Re-audit on {report.re_audit_on:%-d %B %Y}, with the same checks, to confirm that the actions have "
            "worked; a report on the progress of the actions before then.")
