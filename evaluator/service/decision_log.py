"""The decision log: every decision the service makes, appended durably before it is answered.

As the Open Policy Agent keeps one, so that a later audit can show what was
decided, on which input, under which version of the guidance. The log is a
file of JSON Lines; each line is one decision (one incident of a request):

    {"time": "2025-01-31T09:12:03.123456Z", "request_id": "...", "item": 1, "path": "/v1/evaluate",
     "irmer": "0.1.0", "criteria": "irmer-2024-08-28", "criteria_sha256": "...",
     "input": {...} or "input_sha256": "...", "result": {...}}

Durable means written and fsynced: a request's decisions are on disk before its
response is sent, so a decision a client has seen is in the log even if the
server is killed the next instant. Writes are grouped (a group commit): one
writer thread takes every decision waiting, writes them with one write() and
one fsync(), then releases all their requests, so many concurrent requests
share a disk flush.

Rotation: when the file reaches `max_bytes` it is renamed to PATH.000001 (then
.000002, ...: numbers only grow, so no file is renamed twice) and a new file
is started; with `keep`, only that many rotated files are kept. A log is
written by one server: a lock file (PATH.lock) refuses a second.

A server killed in the middle of a write may leave a last line cut short; its
decision was never acknowledged. `read_log` skips such a line, and a server
that opens the log again starts on a new line.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> log = DecisionLog(folder / "decisions.jsonl")
>>> log.append([b'{"request_id": "a"}', b'{"request_id": "b"}']).result()
>>> log.close()
>>> [entry["request_id"] for entry in read_log(folder / "decisions.jsonl")]
['a', 'b']
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, Iterator

# A group commit takes at most this much at once (the rest waits for the next flush).
GROUP_BYTES = 8 << 20


class LogError(Exception):
    """The decision log cannot be opened or written."""


class DecisionLog:
    """An append-only JSON Lines file, fsynced per group of decisions, rotated by size."""

    def __init__(self, path: Path | str, max_bytes: int = 100 << 20, keep: int = 0,
                 on_flush: Callable[[int, int, float], None] | None = None):
        """`max_bytes`: rotate when the file reaches this size (0: never); `keep`: rotated files kept
        (0: all of them); `on_flush(entries, bytes, seconds)`: called after each durable write."""
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self.on_flush = on_flush
        self.rotations = 0
        self.failure: str | None = None  # why the last write failed, until one succeeds
        self._torn = False  # a failed write may have left part of a line: start the next on a new one
        self._lock_fd = self._take_lock()
        try:
            self._fd = self._open()
        except OSError as error:
            os.close(self._lock_fd)
            raise LogError(f"cannot open the decision log {self.path}: {error.strerror or error}") from None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------- opening
    def _take_lock(self) -> int:
        import fcntl
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as error:
            raise LogError(f"cannot open the decision log {self.path}: {error.strerror or error}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise LogError(f"the decision log {self.path} is in use by another server (its lock file "
                           f"{lock} is held)") from None
        return fd

    def _open(self) -> int:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        size = os.fstat(fd).st_size
        if size:
            # A line cut short by a crash: start the next decision on a line of its own.
            with open(self.path, "rb") as existing:
                existing.seek(size - 1)
                if existing.read(1) != b"\n":
                    os.write(fd, b"\n")
                    os.fsync(fd)
        if created:
            _fsync_dir(self.path.parent)
        return fd

    # ------------------------------------------------------------- writing
    def append(self, lines: list[bytes]) -> Future:
        """Queue decisions (each one line of JSON, without its newline); the future is done when they
        are on disk, or raises LogError when they could not be written."""
        future: Future = Future()
        # Running from the start: a caller that stops waiting cannot cancel it under the writer's feet.
        future.set_running_or_notify_cancel()
        if self._closed:
            future.set_exception(LogError("the decision log is closed"))
            return future
        if not lines:
            future.set_result(None)
            return future
        self._queue.put((b"".join(line + b"\n" for line in lines), len(lines), future))
        return future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, size, stop = [first], len(first[0]), False
            while size < GROUP_BYTES:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
                size += len(more[0])
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[tuple[bytes, int, Future]]) -> None:
        data = (b"\n" if self._torn else b"") + b"".join(part for part, _, _ in group)
        started = time.perf_counter()
        try:
            self._write(data)
        except OSError as error:
            self._torn = True
            self.failure = f"cannot write the decision log {self.path}: {error.strerror or error}"
            for _, _, future in group:
                future.set_exception(LogError(self.failure))
            return
        self.failure, self._torn = None, False
        # Counted before the callers hear of it: a request answered after its decisions are on disk
        # finds them in /metrics too.
        if self.on_flush is not None:
            self.on_flush(sum(count for _, count, _ in group), len(data), time.perf_counter() - started)
        for _, _, future in group:
            future.set_result(None)
        if self.max_bytes and os.fstat(self._fd).st_size >= self.max_bytes:
            self._rotate()

    def _write(self, data: bytes) -> None:
        """Write all of `data` and fsync it (raises OSError)."""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def _rotate(self) -> None:
        """Rename the full file to the next number and start a new one (on the writer thread)."""
        try:
            rotated = rotated_files(self.path)
            number = int(rotated[-1].name.rsplit(".", 1)[1]) + 1 if rotated else 1
            target = self.path.with_name(f"{self.path.name}.{number:06d}")
            os.rename(self.path, target)
            fd = self._open()
        except OSError as error:
            self.failure = f"cannot rotate the decision log {self.path}: {error.strerror or error}"
            return
        os.close(self._fd)
        self._fd = fd
        self.rotations += 1
        if self.keep:
            for old in rotated_files(self.path)[:-self.keep]:
                old.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)

    def close(self) -> None:
        """Write what is queued, then close the file (the server's shutdown)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        os.close(self._fd)
        os.close(self._lock_fd)


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of a log, oldest first."""
    prefix = path.name + "."
    found = [p for p in path.parent.glob(prefix + "*") if p.name[len(prefix):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(prefix):]))


def read_log(path: Path | str, rotated: bool = True) -> Iterator[dict[str, Any]]:
    """Every decision in a log (with its rotated files first, oldest first); a line cut short by a
    crash, the only kind of broken line the server leaves, is skipped."""
    path = Path(path)
    files = (rotated_files(path) if rotated else []) + ([path] if path.exists() else [])
    for file in files:
        with open(file, "rb") as stream:
            for line in stream:
                if not line.endswith(b"\n") or not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    continue  # a line cut short, then a newline written when the log was opened again


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
