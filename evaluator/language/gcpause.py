"""The cyclic garbage collector paused while a stage builds its tree.

Parsing, transforming, checking and generating allocate tens of thousands of
small objects that all stay alive (a parse tree, an AST), so every few hundred
allocations the collector walks them again and again, and in a process that has
already loaded the unit registry and the engines each full collection also walks
everything loaded before: about 40% of a cold compile of the 2024 file was the
collector. None of these stages makes reference cycles it then drops, so their
garbage is freed by reference counting as before; the collector resumes when the
outermost paused stage returns (if it was running before), so nothing is kept.

>>> import gc
>>> @paused
... def work():
...     return gc.isenabled()
>>> was = gc.isenabled(); gc.enable()
>>> work(), gc.isenabled()
(False, True)
>>> gc.enable() if was else gc.disable()
"""

from __future__ import annotations

import functools
import gc
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def paused(function: F) -> F:
    """Run `function` with the cyclic collector paused; resume it after only if this call paused it."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if not gc.isenabled():  # paused by a caller (or by the application): leave it as it is
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()
    return wrapper  # type: ignore[return-value]
