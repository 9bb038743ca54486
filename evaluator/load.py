"""The pipeline, end to end: file -> parse tree -> AST -> checked AST -> evaluator.

Also the catalogue of shipped guidance versions: ``load_criteria("2024")``,
``load_criteria("irmer-2023-04-19")``, ``load_criteria("path/to/file.irmer")``,
and which version was in force on a date.

>>> guidance = load_criteria("2024")
>>> guidance.version
'irmer-2024-08-28'
>>> guidance.evaluate({"jurisdiction": "Wales", "exposure": "accidental"}).codes
['1']
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from pydantic import BaseModel

from .language import ast
from .language.check import DEADLINES, Checked, check, fact_infos
from .language.diagnostics import CriteriaError, Diagnostic
from .engines.compiled import CompiledEngine
from .engines.interpreter import Evaluator
from .language.incident import (IncidentBase, IncidentError, IncidentFacts, Problem, incident_model, incident_schema,
                       read_incident)
from .language.gcpause import paused
from .language.parse import parse_text
from .catalogue import (VOCABULARY_FILE, VersionInfo, find_criteria, in_force_on, shipped_files,  # noqa: F401 - the API
                        versions)
from .prepared import incident_id, internal_error
from .resources import criteria_dir
from .result import ErrorInfo, Result, engine_result, shared_entries
from .language.transform import to_ast
from .language.values import FactInfo, ValueProblem, read_date



@dataclass
class LoadedVocabulary:
    """The incident vocabulary, checked: what each fact is."""

    ast: ast.Vocabulary
    facts: dict[str, FactInfo]
    path: Path
    source: str

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of an incident."""
        return incident_schema(self.facts)

    def incident_model(self) -> type[IncidentBase]:
        """The pydantic model of an incident in this vocabulary."""
        if "_model" not in self.__dict__:
            self.__dict__["_model"] = incident_model(self.facts)
        return self.__dict__["_model"]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CriteriaError([Diagnostic(message=f"no such file: {path}")]) from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as error:
        raise CriteriaError([Diagnostic(message=f"cannot read {path}: {error}")]) from None


def parse_file(path: Path) -> tuple[ast.Criteria | ast.Vocabulary, str]:
    source = _read(path)
    name = _display_name(path)
    return to_ast(parse_text(source, name), name, source), source


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@lru_cache(maxsize=8)
def _vocabulary_cached(path: Path, mtime: float) -> LoadedVocabulary:
    node, source = parse_file(path)
    name = _display_name(path)
    if not isinstance(node, ast.Vocabulary):
        raise CriteriaError([Diagnostic(message=f"{name} is a criteria file, not a vocabulary", span=node.span)],
                            {name: source})
    facts, diagnostics = fact_infos(node, name)
    if diagnostics:
        raise CriteriaError(diagnostics, {name: source})
    return LoadedVocabulary(ast=node, facts=facts, path=path, source=source)


def vocabulary_file(path: Path) -> LoadedVocabulary | None:
    """The vocabulary a file holds, checked (CriteriaError when it does not check); None when the file holds
    criteria (compile_file reads those). `irmer check` and `irmer lint` take both kinds of file.

    >>> vocabulary_file(criteria_dir() / VOCABULARY_FILE) is not None
    True
    """
    node, _ = parse_file(path)
    return load_vocabulary(path) if isinstance(node, ast.Vocabulary) else None


def load_vocabulary(path: str | Path | None = None) -> LoadedVocabulary:
    """Load and check a vocabulary file (by default the shipped one)."""
    target = Path(path) if path else criteria_dir() / VOCABULARY_FILE
    if not target.exists():
        raise CriteriaError([Diagnostic(message=f"no such vocabulary file: {target}")])
    return _vocabulary_cached(target.resolve(), target.stat().st_mtime)


@paused
def compile_text(source: str, name: str, base: Path | None = None) -> "Guidance":
    """Parse and check criteria text; raise CriteriaError with every problem found."""
    node = to_ast(parse_text(source, name), name, source)
    if not isinstance(node, ast.Criteria):
        raise CriteriaError([Diagnostic(message=f"{name} is a vocabulary, not a criteria file",
                                        span=node.span, hint="give a criteria file (criteria/irmer-*.irmer); "
                                        "`irmer check` checks a vocabulary on its own")], {name: source})
    notes: list[str] = []
    try:
        vocabulary = _vocabulary_for(node, base, notes)
    except CriteriaError as error:  # a vocabulary not found is located in this file: its text shows the line
        raise CriteriaError(error.diagnostics, {name: source, **error.sources}) from None
    checked, errors, warnings = check(node, vocabulary.ast, vocabulary.facts, name, source)
    guidance = Guidance(checked=checked, source=source, name=name, vocabulary=vocabulary,
                        warnings=list(warnings), notes=notes)
    errors += guidance.check_examples()
    if errors:
        sources = {name: source, _display_name(vocabulary.path): vocabulary.source}
        raise CriteriaError(errors, sources)
    return guidance


def _vocabulary_for(node: ast.Criteria, base: Path | None, notes: list[str]) -> LoadedVocabulary:
    wanted = node.header.vocabulary or VOCABULARY_FILE
    candidates = ([base / wanted] if base else []) + [criteria_dir() / Path(wanted).name]
    for candidate in candidates:
        if candidate.exists():
            if base and candidate.parent.resolve() != base.resolve():
                notes.append(f"vocabulary {wanted} is not beside the file; used the shipped {candidate.name}")
            return load_vocabulary(candidate)
    raise CriteriaError([Diagnostic(message=f"cannot find the vocabulary `{wanted}`",
                                    span=node.header.span, hint="put it beside the criteria file")])


# Checked criteria by path, with the modification times of the file and of its
# vocabulary: an edit to either is seen by the next load, in a long-running process too.
_COMPILED: dict[Path, tuple[tuple[float, float], "Guidance"]] = {}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def compile_file(path: str | Path) -> "Guidance":
    """Load, parse and check a criteria file (cached until it or its vocabulary changes)."""
    target = Path(path)
    if not target.exists():
        raise CriteriaError([Diagnostic(message=f"no such criteria file: {target}")])
    target = target.resolve()
    cached = _COMPILED.get(target)
    if cached is not None:
        (mtime, vocabulary_mtime), guidance = cached
        if mtime == _mtime(target) and vocabulary_mtime == _mtime(guidance.vocabulary.path):
            return guidance
    mtime = _mtime(target)
    guidance = compile_text(_read(target), _display_name(target), target.parent)
    guidance.path = target
    _COMPILED[target] = ((mtime, _mtime(guidance.vocabulary.path)), guidance)
    return guidance


# ------------------------------------------------------------------- the API

@dataclass
class Guidance:
    """One version of the guidance, checked and ready to evaluate incidents.

    >>> g = load_criteria("2024")
    >>> r = g.evaluate({"jurisdiction": "England", "exposure": "accidental", "total_dose": "8 mSv"})
    >>> r.notifiable, r.codes, r.authority.name
    (True, ['1'], 'Care Quality Commission (CQC)')
    """

    checked: Checked
    source: str
    name: str
    vocabulary: LoadedVocabulary
    warnings: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    path: Path | None = None
    _evaluator: Evaluator | None = None
    _compiled: CompiledEngine | None = None
    _shared: dict | None = None  # the compiled engine's advice and route entries with their models (result.py)
    _reads: tuple | None = None  # by row, then by code, the facts its verdict depends on (explain keeps them by those)

    @property
    def ast(self) -> ast.Criteria:
        """The checked AST."""
        return self.checked.criteria

    @property
    def version(self) -> str:
        return self.ast.header.version

    @property
    def header(self) -> ast.Header:
        return self.ast.header

    @property
    def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            self._evaluator = Evaluator(self.checked, self.source)
        return self._evaluator

    def read(self, incident: Mapping[str, Any] | Any) -> IncidentFacts:
        """Read an incident (a dict or a pydantic model); raises IncidentError."""
        if isinstance(incident, BaseModel):
            incident = incident.model_dump(exclude_none=True)
        return self.evaluator.prepare(read_incident(incident, self.vocabulary.facts))

    @property
    def compiled(self) -> CompiledEngine:
        """The compiled engine (engines/compiled/): built once, when first used."""
        if self._compiled is None:
            self._compiled = CompiledEngine.compile(self.checked, self.vocabulary.facts)
        return self._compiled

    def evaluate(self, incident: Mapping[str, Any] | Any, explain: bool = False) -> Result:
        """Evaluate one incident. It never raises: an incident that cannot be read gives a result
        with `error` set, and so, as a last resort, does a fault of ours ("internal error").

        The compiled engine decides. With ``explain=True`` the result also carries every
        criterion's outcome and the comparisons behind it, which the interpreter works out
        (`interpret` gives the interpreter's whole result; the two engines give the same
        answer: tests/test_compiled.py).

        >>> load_criteria("2024").evaluate({"total_dose": "3,5 mSv"}).error.message
        'total_dose: "3,5 mSv" has a decimal comma; numbers take a decimal point'
        >>> g = load_criteria("2024")
        >>> facts = {"jurisdiction": "England", "exposure": "accidental", "total_dose": "8 mSv"}
        >>> len(g.evaluate(facts).explanation), g.evaluate(facts, explain=True).explanation[0].outcome
        (0, 'met')
        """
        shared = self._shared
        if shared is not None and not explain and type(incident) is dict:  # the common case, with nothing between
            try:
                return engine_result(self._compiled.evaluate(incident), shared)  # a new dict, ours
            except Exception:  # noqa: BLE001 - an incident that cannot be read, or a fault: as _result words it
                pass
        return self._result(incident, explain, False)

    def _entries(self) -> dict:
        """The compiled engine's authorities, advice and route entries with their models (result.py), made
        once (`evaluate` reads them from `_shared` directly once they are)."""
        if self._shared is None:
            self._shared = shared_entries(self.compiled)
        return self._shared

    def interpret(self, incident: Mapping[str, Any] | Any) -> Result:
        """The interpreter's result of an incident, explanation and all: the reference engine, which walks the
        checked AST, that the compiled engine (`evaluate`) is tested against. Slower; like `evaluate`, it
        never raises.

        >>> g = load_criteria("2024")
        >>> facts = {"jurisdiction": "Wales", "exposure": "accidental"}
        >>> g.interpret(facts) == g.evaluate(facts, explain=True)
        True
        """
        return self._result(incident, True, True)

    def _result(self, incident: Mapping[str, Any] | Any, explain: bool, interpreter: bool) -> Result:
        try:
            try:
                if type(incident) is not dict and isinstance(incident, BaseModel):  # a dict: no ABC check
                    incident = incident.model_dump(exclude_none=True)
                if not explain:
                    return engine_result(self.compiled.evaluate(incident), self._entries())  # a new dict, ours
                facts = self.read(incident)
                if interpreter or facts.alternative:  # doses in another quantity: explained region by region
                    return self.evaluator.evaluate(facts)
                result = engine_result(self.compiled.evaluate(incident), self._entries())
                if self._reads is None:
                    self._reads = ([info.reads for info in self.compiled.infos],
                                   [info.reads for info in self.compiled.table.comps])
                result.explanation = self.evaluator.explain(facts, self._reads)
                return result
            except IncidentError as error:
                infos = [ErrorInfo(field=p.field, message=p.message, hint=p.hint) for p in error.problems]
                return Result(id=incident_id(incident), criteria=self.version, error=infos[0], errors=infos)
        except Exception as error:  # noqa: BLE001 - the promise is a Result, whatever goes wrong
            info = ErrorInfo(**internal_error(error))
            return Result(id=incident_id(incident), criteria=self.version, error=info, errors=[info])

    def evaluate_many(self, incidents: Iterable[Mapping[str, Any]], explain: bool = False) -> list[Result]:
        """Evaluate several incidents under this version, in order. For a long stream, call `evaluate`
        on each incident as it comes (as `irmer evaluate` does), so that results need not be kept."""
        return [self.evaluate(incident, explain) for incident in incidents]

    def evaluate_table(self, table: Any, *, engine: str = "duckdb", units: Mapping[str, str] | None = None,
                       spark: Any = None) -> Any:
        """Evaluate a table of incidents under this version, in SQL (engines/columnar.py, docs/scale.md).

        `table` is an Arrow table, a pandas or polars frame, a list of incidents, a Parquet, CSV or
        JSON Lines file, or (with engine="spark") a Spark DataFrame. The answer is the table with
        the result's columns added, as an Arrow table (a Spark DataFrame for one), the same answers
        as `evaluate`; `Summary.of(answer)` tells how many rows Python decided.

        >>> import pyarrow as pa
        >>> answer = load_criteria("2024").evaluate_table(pa.table({"jurisdiction": ["Wales"],
        ...                                                         "exposure": ["accidental"]}))
        >>> answer.column("codes").to_pylist()
        [['1']]
        """
        from .engines.columnar import evaluate_table
        return evaluate_table(table, criteria=self, engine=engine, units=units, spark=spark)

    def check_examples(self) -> list[Diagnostic]:
        """Every example's incident must be readable, and its expected codes must exist."""
        diagnostics = []
        base_codes = {row.code for row in self.ast.rows}
        letters = {item.code for item in self.ast.complementary}
        for example in self.ast.examples:
            lines = {given.name: given for given in example.given}
            try:
                read_incident(self.example_incident(example), self.vocabulary.facts)
            except IncidentError as error:
                for problem in error.problems:
                    where = lines.get(problem.field)
                    message = problem.message if problem.message.startswith(problem.field) else str(
                        Problem(problem.field, problem.message))
                    diagnostics.append(Diagnostic(message=f"example {example.title!r}: {message}",
                                                  span=where.span if where else example.span, hint=problem.hint))
            for expectation in example.expects:
                if expectation.what == "date" and expectation.field not in DEADLINES:
                    close = difflib.get_close_matches(expectation.field or "", list(DEADLINES), n=1)
                    diagnostics.append(Diagnostic(
                        message=f"example {example.title!r}: `{expectation.field}` is not a date of the result",
                        span=expectation.span,
                        hint=f"did you mean `{close[0]}`?" if close else f"dates are: {', '.join(DEADLINES)}"))
                if expectation.what == "routes":
                    routes = [route.name for route in self.ast.routes]
                    for name in expectation.items:
                        if name not in routes:
                            close = difflib.get_close_matches(name, routes, n=1)
                            diagnostics.append(Diagnostic(
                                message=f"example {example.title!r} expects route {name}, which this file does not "
                                        f"define", span=expectation.span,
                                hint=f"did you mean `{close[0]}`?" if close else
                                f"its routes are: {', '.join(routes) or 'none'}"))
                if expectation.what != "codes":
                    continue
                for code in expectation.items:
                    bare = code[1:] if code[:1] in letters else code
                    if bare and bare not in base_codes and code not in letters:
                        diagnostics.append(Diagnostic(message=f"example {example.title!r} expects code {code}, "
                                                              f"which this file does not define",
                                                      span=expectation.span))
        return diagnostics

    def example_incident(self, example: ast.Example) -> dict[str, Any]:
        return {given.name: given.value.as_input() for given in example.given}

    def to_json(self) -> str:
        """The checked AST as JSON."""
        return self.ast.model_dump_json(indent=2)


# ---------------------------------------------------------------- catalogue
# The shipped versions (evaluator/catalogue.py, a light module the command line loads without the pipeline).

def load_criteria(spec: str | Path | None = None) -> Guidance:
    """Load criteria: `"2024"`, `"2023"`, a version id, or a path (default: the latest version)."""
    return compile_file(find_criteria(spec))


def criteria_for(incident: Mapping[str, Any]) -> tuple[Guidance, list[str]]:
    """The version in force when the incident was discovered (else the latest), and why."""
    discovered = incident.get("discovered_on") if isinstance(incident, Mapping) else None
    if discovered:
        try:
            day = read_date("discovered_on", discovered)  # a datetime gives its date
        except ValueProblem:
            return load_criteria(), []  # reading the incident reports the bad date
        info = in_force_on(day)
        if info is None:
            earliest = versions()[0]
            return compile_file(earliest.path), [
                f"discovered on {day}, before the earliest version we hold ({earliest.version}, in force from "
                f"{earliest.in_force}); evaluated under it"]
        return compile_file(info.path), []
    return load_criteria(), []


def json_dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
