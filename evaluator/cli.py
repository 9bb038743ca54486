"""The `irmer` command: check, test, evaluate, explain, schema, compile, versions.

Exit status: 0 when all is well; 1 when a check, a test or an incident failed;
2 when the command could not run (bad criteria, unreadable input, usage).
A user never sees a traceback for bad criteria or bad input: every error is
printed as file:line:col with the line and a caret, or as a result's `error`.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from . import __version__
from .language.diagnostics import CriteriaError, render as render_diagnostic
from .tools.examples import run_examples
from .load import (Guidance, compile_file, criteria_for, find_criteria, load_criteria, load_vocabulary, parse_file,
                   shipped_files, versions)
from .tools.render_text import result_text
from .result import ErrorInfo, Result
from .language import ast


def console(stderr: bool = False) -> Console:
    """Rich console: colour on a terminal; plain, fixed-width text otherwise (for files and golden tests)."""
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    return Console(file=stream, highlight=False, soft_wrap=True, width=None if terminal else 200,
                   force_terminal=None if terminal else False, emoji=False)


def _relative(path: Path) -> Path:
    """A path as the user would type it from here."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


class CliError(Exception):
    """A problem that stops the command: printed without a traceback, exit status 2."""


def fail(error: CriteriaError | CliError) -> None:
    text = error.render() if isinstance(error, CriteriaError) else str(error)
    click.echo(text, err=True)
    sys.exit(2)


class Guarded(click.Group):
    """The `irmer` group: no command ends in a Python traceback.

    (A closed pipe, as in `irmer explain ... | head`, click itself ends quietly.)
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CriteriaError as error:
            fail(error)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:  # a bug of ours: say so plainly, without a traceback
            click.echo(f"irmer: internal error: {type(error).__name__}: {error}\n"
                       f"This is a bug in irmer; please report it with the command and its input.", err=True)
            sys.exit(2)


@click.group(cls=Guarded, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="irmer")
def main() -> None:
    """IR(ME)R notification criteria: check and test criteria files, evaluate incidents.

    \b
    irmer evaluate incident.json        is this incident notifiable, under which codes, by when?
    irmer explain incident.json         the same, with every criterion and comparison
    irmer check criteria/FILE.irmer     is this criteria file valid?
    irmer test                          run the examples inside the shipped criteria files
    """


# ------------------------------------------------------------------ check

@main.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Check criteria (or vocabulary) files: syntax, names, kinds, units, examples.

    With no FILE, checks every shipped criteria file.
    """
    out = console()
    failed = False
    for path in files or tuple(_relative(p) for p in shipped_files()):
        try:
            node, _ = parse_file(path)
            if isinstance(node, ast.Vocabulary):
                vocabulary = load_vocabulary(path)
                out.print(f"[green]ok[/] {path}: vocabulary, {len(vocabulary.facts)} facts")
                continue
            guidance = compile_file(path)
        except CriteriaError as error:
            click.echo(error.render(), err=True)
            failed = True
            continue
        for warning in guidance.warnings:
            click.echo(render_diagnostic(warning, guidance.source), err=True)
        for note in guidance.notes:
            click.echo(f"note: {note}", err=True)
        criteria = guidance.ast
        out.print(f"[green]ok[/] {path}: {criteria.header.version}, {len(criteria.rows)} rows, "
                  f"{len(criteria.complementary)} complementary codes, {len(criteria.examples)} examples")
    sys.exit(1 if failed else 0)


# ------------------------------------------------------------------- test

@main.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="List every example, not only failures.")
def test(files: tuple[Path, ...], verbose: bool) -> None:
    """Run the examples inside criteria files (default: every shipped file)."""
    out = console()
    total = failures = 0
    for path in files or tuple(_relative(p) for p in shipped_files()):
        try:
            guidance = compile_file(path)
        except CriteriaError as error:
            click.echo(error.render(), err=True)
            failures += 1
            continue
        outcomes = run_examples(guidance)
        passed = sum(o.passed for o in outcomes)
        total += len(outcomes)
        for outcome in outcomes:
            span = outcome.example.span
            where = f"{guidance.name}:{span.line}" if span else guidance.name
            if outcome.passed:
                if verbose:
                    out.print(f"[green]pass[/] {where}  {outcome.example.title}")
                continue
            failures += 1
            out.print(f"[red]FAIL[/] {where}  {outcome.example.title}")
            for failure in outcome.failures:
                out.print(f"       {failure}")
        colour = "green" if passed == len(outcomes) else "red"
        out.print(f"[{colour}]{passed}/{len(outcomes)} examples pass[/] in {path} ({guidance.version})")
    sys.exit(1 if failures else 0)


# -------------------------------------------------------------- evaluate

def read_input(source: str) -> tuple[list[Any], str]:
    """Incidents from text: one JSON object, a JSON array, or JSON Lines. Returns (items, shape)."""
    text = sys.stdin.read() if source == "-" else _read_file(source)
    stripped = text.strip()
    if not stripped:
        raise CliError(f"{name_of(source)}: no incidents: the input is empty")
    try:
        document = json.loads(stripped, parse_float=Decimal, parse_constant=str)
    except json.JSONDecodeError as error:
        if _looks_like_json_lines(text):
            return [_json_line(line, number) for number, line in enumerate(text.splitlines(), 1)
                    if line.strip()], "lines"
        # The line and column count from the start of the input, as an editor shows them.
        leading = text[:len(text) - len(text.lstrip())].count("\n")
        raise CliError(f"{name_of(source)}:{error.lineno + leading}:{error.colno}: not valid JSON: {error.msg}") from None
    if isinstance(document, list):
        return document, "array"
    return [document], "object"


def name_of(source: str) -> str:
    return "<stdin>" if source == "-" else source


def _looks_like_json_lines(text: str) -> bool:
    """JSON Lines: more than one line, and the first is a whole JSON value on its own."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    try:
        json.loads(lines[0])
    except json.JSONDecodeError:
        return False
    return True


def _read_file(source: str) -> str:
    try:
        return Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"no such file: {source}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {source}: {error}") from None


class _BadLine:
    def __init__(self, number: int, message: str):
        self.number = number
        self.message = message


def _json_line(line: str, number: int) -> Any:
    try:
        return json.loads(line, parse_float=Decimal, parse_constant=str)
    except json.JSONDecodeError as error:
        return _BadLine(number, f"not valid JSON at column {error.colno}: {error.msg}")


def evaluate_items(items: list[Any], criteria: str | None) -> list[Result]:
    fixed: Guidance | None = load_criteria(criteria) if criteria else None
    results = []
    for item in items:
        if isinstance(item, _BadLine):
            results.append(Result(error=ErrorInfo(field=f"line {item.number}", message=item.message),
                                  errors=[ErrorInfo(field=f"line {item.number}", message=item.message)]))
            continue
        if not isinstance(item, dict):
            info = ErrorInfo(field="incident", message=f"an incident is a JSON object, not {type(item).__name__}")
            results.append(Result(error=info, errors=[info]))
            continue
        guidance, notes = (fixed, []) if fixed else criteria_for(item)
        try:
            result = guidance.evaluate(item)
        except Exception as error:  # a bug of ours must not stop the batch or show a traceback
            info = ErrorInfo(field="incident", message=f"internal error: {type(error).__name__}: {error}",
                             hint="this is a bug in irmer; please report it with the incident")
            result = Result(id=str(item.get("id")) if item.get("id") is not None else None,
                            criteria=guidance.version, error=info, errors=[info])
        result.notes = notes + result.notes
        results.append(result)
    return results


def emit(results: list[Result], shape: str, output: str, explain: bool) -> None:
    if output == "json":
        dumped = [r.model_dump(mode="json") for r in results]
        if shape == "lines":
            for item in dumped:
                click.echo(json.dumps(item, ensure_ascii=False))
        elif shape == "array":
            click.echo(json.dumps(dumped, indent=2, ensure_ascii=False))
        else:
            click.echo(json.dumps(dumped[0], indent=2, ensure_ascii=False))
        return
    out = console()
    for index, result in enumerate(results):
        if index:
            out.print()
        out.print(result_text(result, explain=explain))


CRITERIA_HELP = "2023, 2024, a version id or a file (default: the version in force on discovered_on, else the latest)"


@main.command()
@click.argument("source", default="-", metavar="FILE|-")
@click.option("--criteria", "-c", help=CRITERIA_HELP)
@click.option("--format", "-f", "output", type=click.Choice(["text", "json"]), default=None,
              help="text for people, json for tools (default: text on a terminal, json otherwise)")
@click.option("--explain", "-e", is_flag=True, help="Show every criterion and every comparison.")
def evaluate(source: str, criteria: str | None, output: str | None, explain: bool) -> None:
    """Evaluate incidents: one JSON object, a JSON array or JSON Lines, from FILE or stdin (-)."""
    _evaluate(source, criteria, output, explain)


@main.command()
@click.argument("source", default="-", metavar="FILE|-")
@click.option("--criteria", "-c", help=CRITERIA_HELP)
@click.option("--format", "-f", "output", type=click.Choice(["text", "json"]), default="text",
              help="text for people (default), or json")
def explain(source: str, criteria: str | None, output: str) -> None:
    """Evaluate incidents and explain every criterion (same as evaluate --explain)."""
    _evaluate(source, criteria, output, True)


def _evaluate(source: str, criteria: str | None, output: str | None, explain: bool) -> None:
    try:
        items, shape = read_input(source)
        results = evaluate_items(items, criteria)
    except (CriteriaError, CliError) as error:
        fail(error)
    if output is None:
        output = "text" if sys.stdout.isatty() else "json"
    emit(results, shape, output, explain)
    sys.exit(1 if any(r.error for r in results) else 0)


# ---------------------------------------------------------------- schemas

@main.command()
@click.option("--result", "which", flag_value="result", help="The JSON Schema of a result instead.")
@click.option("--incident", "which", flag_value="incident", default=True, help="The JSON Schema of an incident.")
def schema(which: str) -> None:
    """Print the JSON Schema of an incident (or, with --result, of a result)."""
    if which == "result":
        document = Result.model_json_schema()
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                    "$id": "https://irmer.example/schemas/result.schema.json", **document}
    else:
        try:
            document = load_vocabulary().schema()
        except CriteriaError as error:
            fail(error)
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@main.command(name="compile")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--schema", "show_schema", is_flag=True, help="Print the JSON Schema of the AST instead.")
def compile_command(file: Path | None, show_schema: bool) -> None:
    """Print the checked AST of a criteria file as JSON."""
    if show_schema:
        document = ast.Criteria.model_json_schema()
        click.echo(json.dumps({"$schema": "https://json-schema.org/draft/2020-12/schema", **document}, indent=2))
        return
    if file is None:
        raise click.UsageError("give a criteria FILE (or --schema)")
    try:
        guidance = compile_file(file)
    except CriteriaError as error:
        fail(error)
    click.echo(guidance.to_json())


# ------------------------------------------------------------------- diff

def _rename_map(pairs: tuple[str, ...]) -> dict[str, str]:
    renames = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise click.BadParameter(f"{pair!r}: write OLD=NEW, such as 9.3=9.2", param_hint="--rename")
        renames[old.strip()] = new.strip()
    return renames


def _plain(markup: str) -> str:
    """Rich markup as plain text, for a file."""
    from io import StringIO
    buffer = StringIO()
    Console(file=buffer, force_terminal=False, width=200, highlight=False, soft_wrap=True, emoji=False).print(markup)
    return buffer.getvalue()


def render_report(report: Any, output: str) -> str:
    if output == "json":
        return report.model_dump_json(indent=2)
    from .tools import render_diff
    return {"text": render_diff.text, "markdown": render_diff.markdown, "html": render_diff.html}[output](report)


@main.command(name="diff")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option("--rename", "renames", multiple=True, metavar="OLD=NEW",
              help="Match a renumbered code: --rename 9.3=9.2 (repeatable).")
@click.option("--incidents", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also run both versions on these incidents (JSON, JSON Lines or CSV).")
@click.option("--format", "-f", "shape", type=click.Choice(["text", "markdown", "json", "html"]), default="text",
              help="text for the terminal, markdown for a review, json for tools, html for one page.")
@click.option("--output", "-o", "target", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Write to FILE instead of standard output.")
def diff_command(old: str, new: str, renames: tuple[str, ...], incidents: str | None, shape: str,
                 target: str | None) -> None:
    """What changes from guidance OLD to NEW: structure, meaning (with witnesses), and impact.

    OLD and NEW are criteria files or versions (2023, 2024, irmer-2024-08-28).
    Exit status: 0 when no incident can flip, 1 when some can, 2 on error.
    """
    from .tools.diff import diff
    from .tools.impact import IncidentFileError, population, read_incidents
    try:
        before, after = load_criteria(old), load_criteria(new)
        report = diff(before, after, _rename_map(renames))
        if incidents:
            report.population = population(before, after, read_incidents(incidents), incidents)
    except (CriteriaError, IncidentFileError) as error:
        fail(error if isinstance(error, CriteriaError) else CliError(str(error)))
    text = render_report(report, shape)
    if target:
        plain = _plain(text) if shape == "text" else text
        Path(target).write_text(plain + ("" if plain.endswith("\n") else "\n"), encoding="utf-8")
    elif shape == "text":
        console().print(text)
    else:
        click.echo(text)
    sys.exit(1 if report.can_flip else 0)


@main.command(name="git-diff", hidden=True, context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def git_diff(args: tuple[str, ...]) -> None:
    """For git's diff driver: PATH OLD-FILE OLD-HEX OLD-MODE NEW-FILE NEW-HEX NEW-MODE (see docs/diff.md)."""
    import difflib
    from .tools.diff import diff
    if len(args) < 7:
        click.echo("irmer git-diff is run by git as a diff driver; see docs/diff.md", err=True)
        sys.exit(2)
    path, old_file, new_file = args[0], args[1], args[4]
    click.echo(f"irmer diff a/{path} b/{path}")
    if old_file == "/dev/null" or new_file == "/dev/null":
        click.echo(f"{'new' if old_file == '/dev/null' else 'deleted'} criteria file {path}")
        sys.exit(0)  # git takes any other status as a failed driver
    try:
        report = diff(compile_file(old_file), compile_file(new_file))
    except CriteriaError as error:
        # The semantic diff needs valid files; show why, then the plain lines.
        click.echo(error.render())
        old_lines = Path(old_file).read_text(encoding="utf-8").splitlines(keepends=True)
        new_lines = Path(new_file).read_text(encoding="utf-8").splitlines(keepends=True)
        click.echo("".join(difflib.unified_diff(old_lines, new_lines, f"a/{path}", f"b/{path}")), nl=False)
        sys.exit(0)
    console().print(render_report(report, "text"))
    sys.exit(0)


# ------------------------------------------------------ tools for authors
# Each command's work is in a module of its own (docs/authoring.md).

@main.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "-f", "shape", type=click.Choice(["text", "json"]), default="text",
              help="text for people, json for tools.")
def lint(files: tuple[Path, ...], shape: str) -> None:
    """Find the mistakes a table of thresholds invites: band gaps and overlaps, rows that never fire,
    shadowed rows, unused facts, codes out of order, missing examples, suffix ranges.

    With no FILE, lints every shipped criteria file. Exit status: 1 when there is an error, else 0.
    """
    from .tools.lint import run
    sys.exit(run(files or tuple(_relative(p) for p in shipped_files()), shape))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Change nothing; show the diff and exit 1 if a file is not formatted.")
def fmt(files: tuple[Path, ...], check: bool) -> None:
    """Lay criteria files out the canonical way, keeping comments and the regulator's words byte for byte."""
    from .language.fmt import run
    sys.exit(run(files, check))


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "-f", "shape", type=click.Choice(["html", "markdown"]), default="html",
              help="html: one self-contained page; markdown: for a review.")
@click.option("--output", "-o", "target", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write to FILE instead of standard output.")
def render(file: Path, shape: str, target: Path | None) -> None:
    """Show a criteria file the way the regulator prints the table, each row with its rule and examples."""
    from .tools.render_criteria import run
    sys.exit(run(file, shape, target))


@main.command()
def lsp() -> None:
    """Run the language server on stdin and stdout (for an editor: see docs/authoring.md)."""
    from .lsp import run
    run()


@main.command(name="versions")
def versions_command() -> None:
    """List the shipped guidance versions."""
    out = console()
    for info in versions():
        out.print(f"{info.version}  published {info.published}  in force from {info.in_force}  "
                  f"{info.path.name}")


@main.command(name="path", hidden=True)
@click.argument("spec", required=False)
def path_command(spec: str | None) -> None:
    """Print the path of a shipped criteria file."""
    try:
        click.echo(find_criteria(spec))
    except CriteriaError as error:
        fail(error)


if __name__ == "__main__":  # pragma: no cover
    main()
