"""The `irmer` command: check, test, evaluate, explain, schema, compile, versions.

Exit status: 0 when all is well; 1 when a check, a test or an incident failed;
2 when the command could not run (bad criteria, unreadable input, usage).
A user never sees a traceback for bad criteria or bad input: every error is
printed as file:line:col with the line and a caret, or as a result's `error`.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .catalogue import find_criteria, shipped_files, versions
from .errors import CriteriaError

# Each command imports what it uses when it runs: `irmer evaluate` starts without the parser, the
# checker, the unit registry, z3, pygls or rich (docs/performance.md, start-up).


def console(stderr: bool = False) -> Any:
    """Rich console: colour on a terminal; plain, fixed-width text otherwise (for files and golden tests)."""
    from rich.console import Console
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
        except BrokenPipeError:  # the reader went away (`irmer evaluate big.jsonl | head`): stop quietly
            import os
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so that flushing at exit cannot fail again
            sys.exit(0)
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
    """Check criteria (or vocabulary) files: syntax, names, kinds, units, examples, and the table itself:
    bands that leave a gap or overlap, a row that can never be met, a code given twice (lint's error rules,
    unless the file accepts them with `allow RULE "reason"`).

    With no FILE, checks every shipped criteria file.

    \b
    Exit status:
      0  every file is valid
      1  a file has an error (its table too: a band gap or overlap, a row that never fires, a code given twice)
      2  the command could not run
    """
    from .tools.lint import table_diagnostic, table_findings  # z3: only here, never when criteria are loaded
    from .language.diagnostics import render as render_diagnostic
    from .load import compile_file, vocabulary_file
    out = console()
    failed = False
    for path in files or tuple(_relative(p) for p in shipped_files()):
        try:
            vocabulary = vocabulary_file(path)
            if vocabulary is not None:
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
        table = table_findings(guidance)
        for finding in table:
            click.echo(render_diagnostic(table_diagnostic(finding), guidance.source), err=True)
        if table:
            failed = True
            continue
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
    from .load import compile_file
    from .tools.examples import run_examples
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

CRITERIA_HELP = "2023, 2024, a version id or a file (default: the version in force on discovered_on, else the latest)"
TABLE_FORMATS = (".parquet", ".csv")  # files the columnar path reads and writes


def _open_input(source: str):
    if source == "-":
        return sys.stdin.buffer if hasattr(sys.stdin, "buffer") else io.BytesIO(sys.stdin.read().encode())
    try:
        return open(source, "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise CliError(f"no such file: {source}") from None
    except OSError as error:
        raise CliError(f"cannot read {source}: {error.strerror or error}") from None


def _unit_map(pairs: tuple[str, ...]) -> dict[str, str]:
    units = {}
    for pair in pairs:
        fact, sep, unit = pair.partition("=")
        if not sep or not fact.strip() or not unit.strip():
            raise click.BadParameter(f"{pair!r}: write FACT=UNIT, such as total_dose=mSv", param_hint="--unit")
        units[fact.strip()] = unit.strip()
    return units


@main.command()
@click.argument("source", default="-", metavar="FILE|-")
@click.option("--criteria", "-c", help=CRITERIA_HELP)
@click.option("--format", "-f", "output", type=click.Choice(["text", "json"]), default=None,
              help="text for people, json for tools (default: text on a terminal, json otherwise)")
@click.option("--explain", "-e", is_flag=True, help="Show every criterion and every comparison.")
@click.option("--lines", "-l", "json_lines", is_flag=True,
              help="The input is JSON Lines: answer each line as it arrives, without reading ahead.")
@click.option("--workers", "-w", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Evaluate in this many processes; results stay in input order.")
@click.option("--engine", type=click.Choice(["python", "duckdb", "spark"]), default="python", show_default=True,
              help="python: incident by incident; duckdb or spark: the criteria as SQL over a table "
                   "(Parquet, CSV or JSON Lines; see docs/scale.md).")
@click.option("--output", "-o", "target", metavar="FILE",
              help="Write results to FILE: .jsonl or .json, or .parquet or .csv (by the columnar path).")
@click.option("--unit", "units", multiple=True, metavar="FACT=UNIT",
              help="A numeric column's unit for the columnar path: --unit total_dose=mSv (repeatable).")
@click.option("--spark-master", metavar="URL", help="Spark master for --engine spark (default: local).")
def evaluate(source: str, criteria: str | None, output: str | None, explain: bool, json_lines: bool, workers: int,
             engine: str, target: str | None, units: tuple[str, ...], spark_master: str | None) -> None:
    """Evaluate incidents: one JSON object, a JSON array or JSON Lines, from FILE or stdin (-).

    Results are written as they are decided, in input order, one per incident:
    JSON Lines in, JSON Lines out; an array in, an array out. A line that cannot
    be read gets a result with its `error`, and the others are still answered.
    The JSON result leaves out the explanation unless --explain is given.

    \b
    Exit status: 0 every incident evaluated; 1 some incident could not be read
    (its result says why); 2 the command could not run (bad criteria, unreadable input).
    """
    tabular = engine != "python" or any(str(p).lower().endswith(TABLE_FORMATS) for p in (source, target or ""))
    if tabular:
        _evaluate_table(source, target, engine, criteria, _unit_map(units), spark_master, explain)
    elif units or spark_master:
        raise click.UsageError("--unit and --spark-master are for the columnar path (--engine duckdb or spark)")
    _evaluate(source, criteria, output, explain, workers, target, json_lines)


@main.command()
@click.argument("source", default="-", metavar="FILE|-")
@click.option("--criteria", "-c", help=CRITERIA_HELP)
@click.option("--format", "-f", "output", type=click.Choice(["text", "json"]), default="text",
              help="text for people (default), or json")
def explain(source: str, criteria: str | None, output: str) -> None:
    """Evaluate incidents and explain every criterion (same as evaluate --explain)."""
    _evaluate(source, criteria, output, True, 1, None)


def _evaluate_table(source: str, target: str | None, engine: str, criteria: str | None, units: dict[str, str],
                    spark_master: str | None, explain: bool) -> None:
    try:
        from .engines.columnar import run_table
    except ImportError as error:
        fail(CliError(f"the columnar engine is not available here ({error}); install irmer-criteria[columnar]"))
    sys.exit(run_table(source, target, engine=engine, criteria=criteria, units=units, spark_master=spark_master,
                       explain=explain))


def _evaluate(source: str, criteria: str | None, output: str | None, explain: bool, workers: int,
              target: str | None, json_lines: bool = False) -> None:
    from .batch import InputError, Options, Source, results
    stream = sink = None
    try:
        try:
            stream = _open_input(source)
            items = Source(stream, name_of(source), lines=json_lines)
            if target:
                output = "json"
                shape = "array" if target.lower().endswith(".json") else "lines"
            else:
                shape = items.shape
            if output is None:
                output = "text" if sys.stdout.isatty() else "json"
            options = Options(criteria=criteria, output=output, explain=explain, shape=shape)
            decided = results(items, options, workers=workers if output == "json" else 1)
            sink = open(target, "wb") if target else sys.stdout.buffer  # noqa: SIM115
            # Incidents piped in one at a time are answered one at a time: flush each result.
            interactive = source == "-" and not _regular_file(sys.stdin)
            failed = _write(decided, options, sink, flush=interactive)
        except (CriteriaError, CliError, InputError) as error:
            fail(error if not isinstance(error, InputError) else CliError(str(error)))
    finally:
        if stream is not None and stream is not getattr(sys.stdin, "buffer", None):
            stream.close()
        if sink is not None and sink is not sys.stdout.buffer:
            sink.close()
    sys.exit(1 if failed else 0)


def _regular_file(stream) -> bool:
    import os
    import stat
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


def _write(decided, options, sink, flush: bool = False) -> bool:
    """Write each result as it comes; whether any had an error."""
    failed = False
    if options.output == "text":
        from .tools.render_text import result_text
        out = console()
        for index, (result, error) in enumerate(decided):
            if index:
                out.print()
            out.print(result_text(result, explain=options.explain))
            failed = failed or error
        return failed
    flush = flush or (sink.isatty() if hasattr(sink, "isatty") else False)
    if options.shape == "array":
        sink.write(b"[")
    count = 0
    try:
        for text, error in decided:
            failed = failed or error
            if options.shape == "array":
                sink.write(b"\n" if count == 0 else b",\n")
            sink.write(text)  # UTF-8 already (batch.encoded)
            if options.shape != "array":
                sink.write(b"\n")
            count += 1
            if flush:
                sink.flush()
    finally:
        # A broken array stops the batch (InputError): what was written stays valid JSON.
        if options.shape == "array":
            sink.write(b"\n]\n" if count else b"]\n")
        sink.flush()
    return failed


def name_of(source: str) -> str:
    return "<stdin>" if source == "-" else source


# ---------------------------------------------------------------- schemas

@main.command()
@click.option("--result", "which", flag_value="result", help="The JSON Schema of a result instead.")
@click.option("--incident", "which", flag_value="incident", default=True, help="The JSON Schema of an incident.")
def schema(which: str) -> None:
    """Print the JSON Schema of an incident (or, with --result, of a result)."""
    from .load import load_vocabulary
    from .result import Result
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
    from .language import ast
    from .load import compile_file
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

    from rich.console import Console
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

    \b
    Exit status, as diff(1) and `git diff --exit-code` give it:
      0  no incident can be classified differently: every code proved equivalent
      1  the versions differ: some incident can be classified differently (not a failure of the command)
      2  the command could not run (a file that does not check, an unreadable incidents file)
    """
    from .load import load_criteria
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

    from .load import compile_file
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

    With no FILE, lints every shipped criteria file. A vocabulary among the files (criteria/*.irmer) is
    checked and passed over: its facts are linted with the criteria that read them.

    \b
    Exit status:
      0  no finding is an error (warnings and findings accepted with `allow` do not count)
      1  a finding that is not accepted is an error, or a file does not compile
      2  the command could not run
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


# -------------------------------------------------------------------- sql

@main.command(name="sql")
@click.argument("version", metavar="VERSION")
@click.option("--dialect", "-d", type=click.Choice(["duckdb", "spark", "postgres", "bigquery"]), default="duckdb",
              help="The SQL dialect to print (sqlglot prints it).")
@click.option("--table", "-t", default="incidents", show_default=True, help="The table of incidents the view reads.")
@click.option("--view", default="irmer_results", show_default=True, help="The name of the view.")
@click.option("--unit", "units", multiple=True, metavar="FACT=UNIT",
              help="A column of bare numbers in this unit: --unit total_dose=mSv (repeatable).")
@click.option("--columns", metavar="A,B,...", help="The table's columns the view reads (default: id and every fact).")
def sql_command(version: str, dialect: str, table: str, view: str, units: tuple[str, ...], columns: str | None) -> None:
    """Print the criteria as SQL: CREATE VIEW over a table of incidents, for a warehouse (docs/scale.md).

    The view adds the result's columns (notifiable, codes, complementary, missing, authority, notify_by,
    report_by, criteria, error) and _irmer_fallback, true for a row with a value the SQL does not read
    (evaluate those rows with irmer evaluate).
    """
    from .engines.columnar import TableError, check_units, parse_units
    from .engines.sql import SQLUnsupported, create_view
    from .load import load_criteria
    try:
        guidance = load_criteria(version)
        declared = check_units(parse_units(units), guidance.vocabulary.facts)
        names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        click.echo(create_view(guidance.checked, table, view, dialect, declared, names) + ";")
    except (CriteriaError, TableError, SQLUnsupported) as error:
        fail(error if isinstance(error, CriteriaError) else CliError(str(error)))


# ------------------------------------------------------------------ serve

@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0: any free port, printed when listening).")
@click.option("--log", "log_path", default="irmer-decisions.jsonl", show_default=True, metavar="PATH",
              type=click.Path(dir_okay=False), help="The decision log: every decision, as JSON Lines.")
@click.option("--no-log", is_flag=True, help="Keep no decision log (for development only).")
@click.option("--log-input", type=click.Choice(["full", "sha256"]), default="full", show_default=True,
              help="Keep each incident in the log, or only its SHA-256.")
@click.option("--log-max-bytes", type=click.IntRange(0), default=100 << 20, show_default=True, metavar="BYTES",
              help="Rotate the log at this size (0: never).")
@click.option("--log-keep", type=click.IntRange(0), default=0, show_default=True, metavar="N",
              help="Keep this many rotated logs (0: all of them).")
@click.option("--max-body", type=click.IntRange(1), default=16 << 20, show_default=True, metavar="BYTES",
              help="The largest request body (413 beyond).")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=30.0, show_default=True,
              metavar="SECONDS", help="The time a request may take (503 beyond).")
@click.option("--quiet", "-q", is_flag=True, help="No access log.")
def serve(host: str, port: int, log_path: str, no_log: bool, log_input: str, log_max_bytes: int, log_keep: int,
          max_body: int, timeout: float, quiet: bool) -> None:
    """Serve the HTTP API for incident systems and the interview page (docs/service.md).

    \b
    http://HOST:PORT/              the interview page
    POST /v1/evaluate, /v1/explain incidents in, results out (as irmer evaluate)
    GET  /openapi.json             the API's contract

    \b
    Stopping: on SIGTERM or Ctrl-C the requests in flight finish and the log is
    closed; then the process ends by that signal, as uvicorn does (143 or 130 in a shell).
    Exit status 2: could not start (the port is taken, the decision log cannot be opened).
    """
    try:
        from .service.app import Settings
        from .service.decision_log import LogError
        from .service.server import ListenError, run
    except ImportError as error:
        fail(CliError(f"irmer serve needs FastAPI and uvicorn ({error}); install irmer-criteria with its "
                      "dependencies"))
    settings = Settings(log=None if no_log else Path(log_path), log_input=log_input, log_max_bytes=log_max_bytes,
                        log_keep=log_keep, max_body=max_body, timeout=timeout)
    try:
        run(settings, host, port, access_log=not quiet)
    except (ListenError, LogError) as error:
        fail(CliError(f"irmer serve: {error}"))


# ------------------------------------------------------------------ audit

DAY = click.DateTime(formats=["%Y-%m-%d"])


@main.command(name="audit")
@click.argument("log", metavar="LOG", type=click.Path(dir_okay=False))
@click.option("--criteria", "-c", help="One version for every incident (default: the one in force on each "
                                       "incident's discovered_on).")
@click.option("--as-of", "as_of", type=DAY, metavar="DATE", help="The audit date, YYYY-MM-DD (default: today).")
@click.option("--since", type=DAY, metavar="DATE",
              help="The first day of the audit period (default: the day after --as-of a year earlier).")
@click.option("--map", "mapping", type=click.Path(dir_okay=False), metavar="MAP.toml",
              help="How an export's columns, units, values and dates map onto the vocabulary (docs/audit.md).")
@click.option("--output", "-o", "target", metavar="FILE",
              help="Write the report to FILE: report.html, report.md or report.json.")
@click.option("--format", "-f", "shape", type=click.Choice(["html", "markdown", "json"]), default=None,
              help="The report's format (default: from the extension of -o; markdown on standard output).")
@click.option("--theme-window", type=click.IntRange(1, 3660), default=90, show_default=True, metavar="DAYS",
              help="Possible themes: similar incidents discovered within this many days.")
@click.option("--theme-min", type=click.IntRange(2, None), default=3, show_default=True, metavar="N",
              help="Possible themes: at least this many similar incidents.")
@click.option("--theme-by", default="modality,cause", show_default=True, metavar="A,B,...",
              help="Possible themes: what makes incidents similar (modality, cause, or any column of the log).")
@click.option("--re-audit", "re_audit", type=DAY, metavar="DATE",
              help="The re-audit date (default: 6 months after --as-of).")
@click.option("--engine", type=click.Choice(["auto", "python", "duckdb"]), default="auto", show_default=True,
              help="python: the compiled engine, row by row; duckdb: the columnar engine; auto: DuckDB from "
                   "10,000 rows.")
@click.option("--title", help="The report's title.")
def audit_command(log: str, criteria: str | None, as_of: Any, since: Any, mapping: str | None, target: str | None,
                  shape: str | None, theme_window: int, theme_min: int, theme_by: str, re_audit: Any, engine: str,
                  title: str | None) -> None:
    """Audit an incident log against the guidance (docs/audit.md).

    LOG is CSV, JSON Lines or Parquet: the vocabulary's facts, the audit columns notified_on,
    report_sent_on, notified_codes and authority_notified, and any other columns. The report
    follows a clinical audit: the standard, the method, the findings (notifiable but not notified,
    late, wrong codes or authority, undetermined, unreadable, possible themes for judgement), the
    annual report's tables, an action plan and the re-audit date.

    \b
    Exit status:
      0  audited: no finding
      1  audited: there are findings (the report lists them)
      2  the command could not run (an unreadable log or mapping file, a bad option)
    """
    from .tools.audit import AuditError, Options, audit
    from .tools.audit_log import LogError
    from .tools.audit_report import ReportError, format_of, render
    options = Options(criteria=criteria, mapping=mapping, engine=engine, theme_window=theme_window,
                      theme_min=theme_min, theme_by=tuple(k.strip() for k in theme_by.split(",") if k.strip()))
    if as_of:
        options.as_of = as_of.date()
    options.since = since.date() if since else None
    options.re_audit = re_audit.date() if re_audit else None
    if title:
        options.title = title
    try:
        if not options.theme_by:
            raise AuditError("--theme-by names at least one column, such as modality,cause")
        form = shape or (format_of(target) if target else "markdown")
        report = audit(log, options)
        text = render(report, form)
        if target:
            try:
                Path(target).write_text(text, encoding="utf-8")
            except OSError as error:
                raise ReportError(f"cannot write {target}: {error}") from None
        else:
            click.echo(text, nl=False)
    except (LogError, AuditError, ReportError) as error:
        fail(CliError(f"irmer audit: {error}"))
    found = ", ".join(f"{f.count:,} {f.kind.replace('_', ' ')}" for f in report.findings) or "no findings"
    click.echo(f"irmer: audited {report.summary.audited:,} incidents of {log} ({report.method.rows:,} rows) on "
               f"{report.audited_on}: {found}" + (f"; report written to {target}" if target else ""), err=True)
    sys.exit(1 if report.findings else 0)


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
