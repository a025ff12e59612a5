"""One writer per pair: an OS-level lock held by the process for sync, undo, refresh and auto.

The lock is `flock` on a file in the data dir, so it goes with the process: a crash or `kill -9`
releases it at once, and no stale PID string can keep a pair locked. While held, the file says
who holds it (what, run id, pid, since), for the one-line answer a second process gives.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from pathlib import Path
from types import TracebackType

from tui_sync.cache import now_utc


class PairBusy(Exception):
    """Another process holds the pair. One line: who, what, since when (exit 1)."""


def _lock_path(data_dir: Path, pair: str) -> Path:
    # Pair names are config keys; keep the file name to safe characters whatever they hold.
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", pair) or "_"
    return data_dir / "locks" / f"{safe}.lock"


class PairLock:
    """`with PairLock(data_dir, pair, "sync"):` holds the pair or raises PairBusy."""

    def __init__(self, data_dir: Path, pair: str, what: str, wait: float = 0.0) -> None:
        self.path = _lock_path(data_dir, pair)
        self.pair = pair
        self.what = what
        self.wait = wait
        self._fd: int | None = None

    def acquire(self) -> PairLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _describe(fd)
                    os.close(fd)
                    raise PairBusy(f"pair {self.pair!r} is busy: {holder}") from None
                time.sleep(0.1)  # polling a lock another process holds; --wait only
        self._fd = fd
        self.note()
        return self

    def note(self, run_id: str | None = None) -> None:
        """Say in the lock file what holds it (the run id once it has one)."""
        if self._fd is None:
            return
        record = {"what": self.what, "pid": os.getpid(), "since": now_utc(), "run": run_id}
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(record).encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PairLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _describe(fd: int) -> str:
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict) or not record.get("what"):
        return "another tui-sync process holds it (try again, or add --wait)"
    run = f" {record['run']}" if record.get("run") else ""
    return (
        f"{record['what']}{run} since {record.get('since', '?')} (pid {record.get('pid', '?')}); "
        "try again when it ends, or add --wait"
    )
