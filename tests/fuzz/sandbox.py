"""A child process that runs the fuzz suite's calls, so that a call that hangs fails its test.

A hang in the code under test (an exponent expanded in full, a runaway
regular expression) cannot be stopped from inside the process: Python's
signals wait for a C routine to return. So each call runs in a child process
kept for many calls; a call that takes longer than its bound kills the child,
a fresh one takes its place, and the call fails with `TooSlow`. A call that
raises fails with `Raised`, carrying the child's traceback; a child that dies
fails with `Died`.

The child is forked from the test process (Linux), so it starts with the
criteria already compiled, and a call's function must be importable by name
(a module-level function) for the pipe to carry it.

>>> with Sandbox() as sandbox:
...     sandbox.call(divmod, 7, 2, seconds=5)
(3, 1)
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from typing import Any, Callable

# The time bound of one call, in seconds. A call takes milliseconds; the bound is generous
# so that a busy machine (every core running tests) never makes a test flaky.
SECONDS = float(os.environ.get("IRMER_FUZZ_SECONDS", "10"))


class SandboxFailure(AssertionError):
    """A call in the sandbox did not return a value."""


class TooSlow(SandboxFailure):
    pass


class Raised(SandboxFailure):
    pass


class Died(SandboxFailure):
    pass


# Every sandbox's end of its pipe, in the test process: a child closes them all, so that its
# parent's death (or a sibling's) is seen as the end of the pipe, not as silence.
_PARENT_ENDS: set = set()


def _serve(connection, parent: int) -> None:
    for end in list(_PARENT_ENDS):
        end.close()
    while True:
        try:
            while not connection.poll(1.0):
                if os.getppid() != parent:
                    os._exit(0)  # the test process has gone (killed): so do we
            function, args = connection.recv()
        except (EOFError, OSError):
            return  # the test process has gone
        try:
            answer = ("value", function(*args))
        except BaseException:  # noqa: BLE001 - every failure goes back to the test, as text
            answer = ("raised", traceback.format_exc())
        try:
            connection.send(answer)
        except Exception:  # noqa: BLE001 - the value would not pickle: say so
            connection.send(("raised", traceback.format_exc()))


class Sandbox:
    """Runs calls in a child process, one at a time, each within a time bound."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("fork")
        self._start()

    def _start(self) -> None:
        self._connection, child = self._context.Pipe()
        _PARENT_ENDS.add(self._connection)
        self._process = self._context.Process(target=_serve, args=(child, os.getpid()), daemon=True)
        self._process.start()
        child.close()

    def _restart(self) -> None:
        self.close()
        self._start()

    def call(self, function: Callable[..., Any], *args: Any, seconds: float = SECONDS) -> Any:
        """function(*args) in the child; its value, or a SandboxFailure saying what happened."""
        what = f"{function.__name__}{_shorten(repr(args))}"
        self._connection.send((function, args))
        if not self._connection.poll(seconds):
            self._restart()
            raise TooSlow(f"{what} took more than {seconds:g} s")
        try:
            kind, value = self._connection.recv()
        except (EOFError, OSError):
            self._process.join(5)
            code = self._process.exitcode
            self._restart()
            raise Died(f"{what}: the process died (exit code {code})") from None
        if kind == "raised":
            raise Raised(f"{what} raised:\n{value}")
        return value

    def close(self) -> None:
        _PARENT_ENDS.discard(self._connection)
        self._connection.close()
        if self._process.is_alive():
            self._process.kill()
        self._process.join(5)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
