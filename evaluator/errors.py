"""The error a criteria file that cannot be parsed or checked raises.

Kept apart from the diagnostics themselves (language/diagnostics.py) so that
the command line can catch it without loading the language.
"""

from __future__ import annotations

from typing import Any


class CriteriaError(Exception):
    """Raised when a criteria file cannot be parsed or checked.

    It carries every diagnostic found (not just the first) and the source
    texts, so that callers can render them with a caret.
    """

    def __init__(self, diagnostics: list[Any], sources: dict[str, str] | None = None):
        self.diagnostics = list(diagnostics)
        self.sources = dict(sources or {})
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    def render(self) -> str:
        from .language.diagnostics import render
        return "\n".join(render(d, self.sources.get(d.span.file) if d.span else None)
                         for d in self.diagnostics)
