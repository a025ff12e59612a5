"""Running the real console script on a temporary data dir and config, as a user would."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

from tui_sync.sandbox import outside

SCRIPT = str(Path(sys.executable).parent / "tui-sync")


def run(
    home: Path,
    *args: str,
    config: bool = True,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """The command's exact bytes: what reaches the terminal, before any decoding."""
    config_path = home / "config.toml"
    if config and not config_path.exists():
        config_path.write_text("")  # an empty config: only the built-in sandbox pair
    head = ["--config", str(config_path)] if config else []
    return subprocess.run(
        [SCRIPT, *head, "--data-dir", str(home / "data"), *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        env=env,
    )


def text(out: subprocess.CompletedProcess[bytes]) -> tuple[str, str]:
    return out.stdout.decode(), out.stderr.decode()


def one_line(err: bytes) -> str:
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def fingerprint(home: Path) -> tuple[str, str]:
    """What the sandbox's vendors hold and the audit log: what a command must leave as it found
    it."""
    held = sorted(outside.values(home / "data").items())
    remote = hashlib.sha256(repr(held).encode()).hexdigest()
    cache = home / "data" / "cache.db"
    if not cache.exists():
        return remote, repr(([], []))  # no cache yet: no runs
    conn = sqlite3.connect(cache)
    try:
        runs = conn.execute("SELECT * FROM runs ORDER BY run_id").fetchall()
        journal = conn.execute("SELECT * FROM journal ORDER BY run_id, seq").fetchall()
    finally:
        conn.close()
    return remote, repr((runs, journal))
