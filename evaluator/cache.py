"""What is worked out once is kept on disk: compiled criteria and the catalogue of versions.

Parsing and checking a criteria file, building the unit registry and
generating the engine's code take most of a second; a command that evaluates
one incident should not pay that each time. The results are pickled in a cache
folder, each under a key made of the bytes of its inputs (the criteria file and
its vocabulary) and a fingerprint of the package (its version and the size and
time of each of its files), so an edit to any of them is seen by the next run.

The folder is ``$IRMER_CACHE_DIR``, else ``$XDG_CACHE_HOME/irmer``, else
``~/.cache/irmer``; ``IRMER_CACHE_DIR=off`` turns the cache off. A folder that
cannot be written is not an error: the work is then done each time. Entries
are written whole (to a temporary file, then renamed), so two processes never
read half an entry.

>>> entry = remember("doctest", [b"some input"], lambda: {"worked": "out"})
>>> entry == remember("doctest", [b"some input"], lambda: {"worked": "again"})
True
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

PACKAGE = Path(__file__).resolve().parent
FORMAT = 1  # bump when the layout of what is kept changes


def directory() -> Path | None:
    """The cache folder, or None when the cache is off."""
    chosen = os.environ.get("IRMER_CACHE_DIR")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "no") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "irmer"


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """The package as it is now: its version, the Python running it, and every file's size and time."""
    from . import __version__
    parts = [__version__, sys.version, str(FORMAT)]
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in (".py", ".lark", ".txt", ".irmer") and "__pycache__" not in path.parts:
            stat = path.stat()
            parts.append(f"{path.relative_to(PACKAGE)}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def key(inputs: Iterable[bytes]) -> str:
    digest = hashlib.sha256(fingerprint().encode())
    for data in inputs:
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:40]


def remember(kind: str, inputs: Iterable[bytes], work: Callable[[], Any]) -> Any:
    """The value of `work()` for these inputs: from the cache when it holds it, else worked out and kept."""
    folder = directory()
    entry = folder / f"{kind}-{key(inputs)}.pickle" if folder is not None else None
    if entry is not None:
        try:
            with open(entry, "rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            pass
        except Exception:  # noqa: BLE001 - a damaged or foreign entry is worked out again
            pass
    value = work()
    if entry is not None:
        _store(entry, value)
    return value


KEEP = 256  # entries kept; an edited criteria file makes a new one each time, so the oldest go


def _store(entry: Path, value: Any) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        _prune(entry.parent)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, entry)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        try:
            os.unlink(temporary)  # type: ignore[possibly-undefined]
        except (OSError, NameError):
            pass


def _prune(folder: Path) -> None:
    entries = list(folder.glob("*.pickle"))
    if len(entries) < KEEP:
        return
    def age(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0
    for old in sorted(entries, key=age)[:len(entries) - KEEP // 2]:
        try:
            old.unlink()
        except OSError:
            pass


def clear() -> int:
    """Remove every entry; the number removed."""
    folder = directory()
    if folder is None or not folder.is_dir():
        return 0
    removed = 0
    for entry in folder.glob("*.pickle"):
        try:
            entry.unlink()
            removed += 1
        except OSError:
            pass
    return removed
