"""The shipped versions of the guidance: which files, published when, in force from when.

>>> [info.version for info in versions()]
['irmer-2023-04-19', 'irmer-2024-08-28']
>>> find_criteria("2023").name, in_force_on(__import__("datetime").date(2024, 9, 1)).version
('irmer-2023-04-19.irmer', 'irmer-2024-08-28')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .resources import criteria_dir

VOCABULARY_FILE = "incident-vocabulary.irmer"


@dataclass(frozen=True)
class VersionInfo:
    version: str
    published: dt.date | None
    in_force: dt.date | None
    path: Path


def shipped_files() -> list[Path]:
    return sorted(p for p in criteria_dir().glob("*.irmer") if p.name != VOCABULARY_FILE)


@lru_cache(maxsize=1)
def _catalogue() -> tuple[VersionInfo, ...]:
    from . import cache
    files = shipped_files()
    inputs = [str(p).encode() + b"\0" + p.read_bytes() for p in files]
    return cache.remember("catalogue", inputs, lambda: _read_headers(files))


def _read_headers(files: list[Path]) -> tuple[VersionInfo, ...]:
    from .language import ast
    from .load import parse_file
    infos = []
    for path in files:
        node, _ = parse_file(path)
        if isinstance(node, ast.Criteria):
            infos.append(VersionInfo(node.header.version, node.header.published, node.header.in_force, path))
    return tuple(sorted(infos, key=lambda i: (i.in_force or dt.date.min, i.version)))


def versions() -> list[VersionInfo]:
    """The shipped guidance versions, oldest first."""
    return list(_catalogue())


def find_criteria(spec: str | Path | None = None) -> Path:
    """A criteria file for `2024`, a version id, or a path; the latest version when None."""
    catalogue = versions()
    if spec is None:
        return catalogue[-1].path
    text = str(spec)
    path = Path(text)
    if path.suffix == ".irmer" and path.exists():
        return path  # a file the user names, even if a shipped file has the same name
    for info in catalogue:
        if text == info.version or (info.published and text == str(info.published.year)):
            return info.path
    if path.exists():
        return path
    for info in catalogue:
        if text == info.path.name:
            return info.path
    from .language.diagnostics import CriteriaError, Diagnostic
    known = ", ".join(sorted({str(i.published.year) for i in catalogue if i.published} | {i.version for i in catalogue}))
    raise CriteriaError([Diagnostic(message=f"no criteria `{text}`", hint=f"give a file, or one of: {known}")])


def in_force_on(day: dt.date) -> VersionInfo | None:
    """The shipped version in force on a day, or None before the earliest."""
    chosen = None
    for info in versions():
        if info.in_force and info.in_force <= day:
            chosen = info
    return chosen
