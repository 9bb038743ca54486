"""Where the grammar and the shipped criteria live.

In a checkout they are the top-level folders grammar/ and criteria/; in an
installed wheel they are copied into the package (see pyproject.toml). This
module is the only place that knows both layouts.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"none of {', '.join(map(str, candidates))} exists")


def grammar_path() -> Path:
    """The Lark grammar of the criteria language."""
    return _first_existing(_PACKAGE / "grammar" / "irmer.lark", _PACKAGE.parent / "grammar" / "irmer.lark")


def criteria_dir() -> Path:
    """The folder of shipped criteria files (every guidance version, and the vocabulary)."""
    return _first_existing(_PACKAGE / "criteria", _PACKAGE.parent / "criteria")


def units_path() -> Path:
    """Our pint unit definitions."""
    return _PACKAGE / "language" / "units.txt"
