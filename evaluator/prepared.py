"""Criteria ready to evaluate: a file's compiled engine, from the cache when it holds it.

`load_criteria` runs the whole pipeline (parse, check, compile) and gives a
Guidance, for everything a program may ask. The command line and the service
ask one thing, many times: the result of an incident. `prepare` gives that at
once: the compiled engine's Table comes from the cache (evaluator/cache.py),
and the pipeline runs only when an incident needs what only it has (an
explanation, the three-valued side for a missing fact, the vocabulary's reader
for an unusual value).

>>> prepared = prepare("2024")
>>> document = prepared.document({"id": 7, "jurisdiction": "Wales", "exposure": "accidental"})
>>> document["id"], document["codes"], document["authority"]["name"]
('7', ['1'], 'Healthcare Inspectorate Wales (HIW)')
>>> prepared.evaluate({"jurisdiction": "Wales", "exposure": "accidental"}).codes  # a Result, as Guidance gives
['1']
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

from . import cache
from .catalogue import find_criteria


def incident_id(incident: Any) -> str | None:
    """The incident's id as text for its result, if it has a usable one."""
    try:
        ident = incident.get("id") if isinstance(incident, Mapping) else getattr(incident, "id", None)
    except Exception:  # noqa: BLE001 - an odd mapping must not stop the result
        return None
    if ident is None or isinstance(ident, bool) or not isinstance(ident, (str, int)):
        return None
    if isinstance(ident, int) and abs(ident) >= 10 ** 30:
        return None
    from .language.values import id_text
    return id_text(ident)


def internal_error(error: BaseException) -> dict[str, Any]:
    """The error of a result when a fault of ours stopped the evaluation: said plainly, never a traceback."""
    from .language.values import show_text
    return {"field": "incident", "message": f"internal error: {type(error).__name__}: {show_text(str(error), 200)}",
            "hint": "this is a fault in the evaluator, not in the incident; please report it with the incident"}


class Prepared:
    """One criteria file, compiled, as the command line and the service evaluate with it."""

    def __init__(self, path: Path):
        from .engines.compiled import CompiledEngine
        self.path = path
        self._guidance: Any = None
        table = self._table()
        self.engine = CompiledEngine(table)
        self.version = table.version

    @property
    def guidance(self) -> Any:
        """The whole pipeline's Guidance for this file (built when first asked for)."""
        if self._guidance is None:
            from .load import compile_file
            self._guidance = compile_file(self.path)
        return self._guidance

    def _table(self) -> Any:
        source = self.path.read_bytes()

        def work() -> tuple[str, str, Any]:
            guidance = self.guidance
            vocabulary = guidance.vocabulary.path
            return str(vocabulary), _digest(vocabulary), guidance.compiled.table

        vocabulary, digest, table = cache.remember("table", [str(self.path).encode(), source], work)
        if _digest(Path(vocabulary)) != digest:  # the vocabulary changed since: compile again
            _, _, table = work()
        return table

    def document(self, incident: Any) -> dict[str, Any]:
        """The result of one incident as a plain dict (the Result's fields, without the explanation).
        Never raises: an incident that cannot be read, or a fault of ours, gives a result with `error`."""
        try:
            return self.engine.evaluate(incident)
        except Exception as error:  # noqa: BLE001 - the promise is a result, whatever goes wrong
            from .engines.compiled import error_document  # imported here: not on every incident's path
            from .language.incident import IncidentError
            if isinstance(error, IncidentError):
                problems = [{"field": p.field, "message": p.message, "hint": p.hint} for p in error.problems]
            else:
                problems = [internal_error(error)]
            return error_document(incident_id(incident), self.version, problems)

    def evaluate(self, incident: Any, explain: bool = False) -> Any:
        """A Result, as Guidance.evaluate gives it (with the explanation when asked for)."""
        if explain:
            return self.guidance.evaluate(incident, explain=True)
        from .result import from_document
        return from_document(self.document(incident))


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


_PREPARED: dict[Path, tuple[int, Prepared]] = {}


def prepare(spec: str | Path | None = None) -> Prepared:
    """The prepared criteria for `"2024"`, a version id or a path (the latest when None); raises CriteriaError."""
    path = Path(find_criteria(spec)).resolve()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = -1
    cached = _PREPARED.get(path)
    if cached is None or cached[0] != stamp:
        if not path.is_file():
            from .language.diagnostics import CriteriaError, Diagnostic
            raise CriteriaError([Diagnostic(message=f"no such criteria file: {path}")])
        cached = (stamp, Prepared(path))
        _PREPARED[path] = cached
    return cached[1]
