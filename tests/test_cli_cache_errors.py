"""Issue 10 item 9: a healthy but locked cache, or a read-only data dir, is said as what it is."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.cli_helpers import one_line, run
from tui_sync.cache import Cache, CacheError
from tui_sync.sandbox.state import ensure_sandbox


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    ensure_sandbox(tmp_path / "data", size=200)
    Cache.open(tmp_path / "data").close()
    return tmp_path / "data"


def test_a_locked_cache_is_not_called_corrupt(data_dir: Path) -> None:
    holder = sqlite3.connect(data_dir / "cache.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE held (x)")  # another process mid-write, holding the file
    try:
        with pytest.raises(CacheError) as caught:
            Cache(data_dir / "cache.db", timeout=0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    message = str(caught.value)
    assert "locked by another tui-sync process" in message
    assert "corrupt" not in message and "move it aside" not in message


def test_a_read_only_cache_is_not_called_corrupt(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = sqlite3.connect

    def read_only(path: Path, **kwargs: object) -> sqlite3.Connection:
        # What a read-only mount does to SQLite, even for root (who ignores file modes).
        return real_connect(f"{Path(path).as_uri()}?mode=ro", uri=True)

    (data_dir / "cache.db-wal").unlink(missing_ok=True)
    conn = real_connect(data_dir / "cache.db")
    conn.execute("PRAGMA journal_mode = DELETE")  # so the next open must write to go WAL
    conn.close()
    monkeypatch.setattr(sqlite3, "connect", read_only)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(CacheError) as caught:
        Cache.open(data_dir)
    message = str(caught.value)
    assert message.startswith(f"data dir {data_dir} is read-only")
    assert "corrupt" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders anyway")
def test_read_only_data_dir_through_the_cli(tmp_path: Path, data_dir: Path) -> None:
    (data_dir / "cache.db").unlink()
    data_dir.chmod(0o555)
    try:
        out = run(tmp_path, "diff")
    finally:
        data_dir.chmod(0o755)
    assert out.returncode == 2
    assert "read-only" in one_line(out.stderr)
