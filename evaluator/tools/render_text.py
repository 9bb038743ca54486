"""Text output for people: results and example runs, aligned, coloured on a terminal.

Colour comes from rich markup; when the output is not a terminal, rich drops
it, so the same text is what the golden files in tests/ hold.
"""

from __future__ import annotations

from rich.markup import escape

from ..result import CriterionResult, Result

VERDICT = {True: "[bold red]NOTIFIABLE[/]", False: "[bold green]not notifiable[/]",
           None: "[bold yellow]UNDETERMINED[/]"}
MARK = {"met": "[red]✓[/]", "not met": "[green]✗[/]", "undetermined": "[yellow]?[/]", "out of scope": "[dim]·[/]"}
LABEL_WIDTH = 11
# The header's codes when there are none: notifiable with no code yet means the code turns on facts not given.
NO_CODES = {True: "code not yet known", False: "no codes", None: "no codes"}


def _line(label: str, value: str) -> str:
    if not value:
        return f"  [bold]{label}[/]"
    return f"  [bold]{label:<{LABEL_WIDTH}}[/]{value}"


def result_text(result: Result, explain: bool = False) -> str:
    """One result as text; with explain, every criterion and every comparison."""
    name = escape(result.id or "incident")
    lines: list[str] = []
    if result.error is not None:
        criteria = f"  [dim]criteria {escape(result.criteria)}[/]" if result.criteria else ""
        lines.append(f"[bold]{name}[/]  [bold magenta]INVALID[/]{criteria}")
        for error in result.errors or [result.error]:
            hint = f" ({escape(error.hint)})" if error.hint else ""
            # Messages usually name their field already: say it once.
            text = error.message if error.message.startswith(error.field) else f"{error.field}: {error.message}"
            lines.append(_line("error", f"{escape(text)}{hint}"))
        return "\n".join(lines)
    codes = ", ".join(result.codes) if result.codes else NO_CODES[result.notifiable]
    lines.append(f"[bold]{name}[/]  {VERDICT[result.notifiable]}  [bold]{escape(codes)}[/]  "
                 f"[dim]criteria {escape(result.criteria or '')}[/]")
    if result.notifiable is None and result.missing:
        lines.append(_line("missing", escape(", ".join(result.missing)) + "  [dim](give these to decide)[/]"))
    elif result.notifiable and not result.codes:
        # Notifiable whatever the unknown facts are, but under a code that turns on them.
        deciding = result.missing or sorted(
            {fact for c in result.explanation if c.outcome == "undetermined" for fact in c.missing})
        if deciding:
            lines.append(_line("missing", escape(", ".join(deciding)) + "  [dim](give these to decide the code)[/]"))
    for assumed in result.assumed:
        # A judgement taken by default that decides the result: the reader should confirm it.
        lines.append(_line("assumed", escape(assumed.text) + "  [dim](give it to confirm)[/]"))
    if result.authority:
        contact = f" — {escape(result.authority.contact)}" if result.authority.contact else ""
        lines.append(_line("authority", escape(result.authority.name) + contact))
    if result.notify_by:
        lines.append(_line("notify by", str(result.notify_by)))
    if result.report_by:
        lines.append(_line("report by", str(result.report_by)))
    for advice in result.advice:
        lines.append(_line("advice", escape(advice.text)))
    for route in result.routes:  # where the incident also goes, and why
        why = f"  [dim]({escape(route.why)})[/]" if route.why else ""
        lines.append(_line("route", escape(route.to) + why))
    for note in result.notes:
        lines.append(_line("note", escape(note)))
    # Without --explain, show what decided the result: the criteria met, or, while
    # the result is undetermined, the criteria that cannot yet be decided.
    decisive = {True: ("met",), False: (), None: ("met", "undetermined")}[result.notifiable]
    shown = [c for c in result.explanation if explain or c.outcome in decisive]
    hint = "" if explain else "[dim](irmer explain shows every criterion)[/]"
    if shown:
        lines.append(_line("why", hint))
        for criterion in shown:
            lines.extend(_criterion(criterion, explain))
    elif result.notifiable is False:
        lines.append(_line("why", escape(_none_met(result)) + " " + hint))
    return "\n".join(lines)


def _none_met(result: Result) -> str:
    """Why a result is not notifiable, true also when a voluntary code is shown with it."""
    if not result.codes:
        return "no criterion is met"
    voluntary = ", ".join(result.codes)
    return (f"no statutory criterion is met; voluntary notification {voluntary} may be made"
            if len(result.codes) == 1 else
            f"no statutory criterion is met; voluntary notifications {voluntary} may be made")


def _criterion(criterion: CriterionResult, explain: bool) -> list[str]:
    label = f"  [dim]({escape(criterion.label)})[/]" if criterion.label else ""
    category = f"  {escape(criterion.category)}" if criterion.category else ""
    lines = [f"    {MARK[criterion.outcome]} {escape(criterion.code):<5} [bold]{criterion.outcome:<12}[/]"
             f"{category}{label}".rstrip()]
    if criterion.outcome == "out of scope" and not explain:
        return lines
    for words in criterion.says:
        lines.append(f"        [italic]“{escape(words)}”[/]")
    if criterion.band:  # the category test first, then the criterion
        lines.append(f"        [cyan]band[/]  {escape(criterion.band)}")
    if criterion.rule:
        lines.append(f"        [cyan]rule[/]  {escape(criterion.rule)}")
    for reason in criterion.reasons:
        lines.append(f"          {escape(reason)}")
    if criterion.excluded_by:
        lines.append(f"        [magenta]excluded by[/] {escape(criterion.excluded_by)}")
    if criterion.missing:
        lines.append(f"        [yellow]missing[/] {escape(', '.join(criterion.missing))}")
    if criterion.interpretations:
        lines.append(f"        [dim]interpretations: {escape(', '.join(criterion.interpretations))}[/]")
    return lines
