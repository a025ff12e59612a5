"""Issue 10 item 8: the sandbox is never silently regenerated; `sandbox` prepares it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.cli_helpers import one_line, run, text
from tui_sync.sandbox import state
from tui_sync.sandbox.state import ensure_sandbox, sandbox_dir

COMMANDS = [
    ("sync", "--pair", "sandbox", "--to", "store", "--fields", "price", "--all", "--dry-run"),
    ("refresh",),
    ("diff",),
    ("diff", "--json"),
    ("log",),
]


def _damaged(home: Path, how: str) -> bytes:
    """One of the two vendors' files damaged (the books for some, the store for others)."""
    books = how in ("corrupt", "empty")
    path = (state.books_path if books else state.store_path)(home / "data")
    data = path.read_bytes()
    if how == "corrupt":
        data = b"this is not a database at all" * 200
    elif how == "truncated":
        data = data[: len(data) // 2]
    elif how == "empty":
        data = b""
    elif how == "garbage header":
        data = b"\x00" * 100 + data[100:]
    path.write_bytes(data)
    return data


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ensure_sandbox(tmp_path / "data", size=300)
    return tmp_path


# Each damage with each kind of command, without running every pair of them (subprocesses).
CASES = [
    ("corrupt", COMMANDS[0]),
    ("truncated", COMMANDS[0]),
    ("empty", COMMANDS[0]),
    ("garbage header", COMMANDS[0]),
    ("truncated", COMMANDS[1]),
    ("corrupt", COMMANDS[2]),
    ("empty", COMMANDS[3]),
    ("corrupt", COMMANDS[4]),
]


@pytest.mark.parametrize(("how", "command"), CASES)
def test_an_unusable_sandbox_is_reported_and_kept(
    home: Path, how: str, command: tuple[str, ...]
) -> None:
    data = _damaged(home, how)
    out = run(home, *command)
    if command == ("log",):  # the audit trail does not read the sandbox at all
        assert out.returncode == 0
    else:
        assert out.returncode == 2, text(out)
        line = one_line(out.stderr)
        assert str(sandbox_dir(home / "data")) in line and "tui-sync sandbox --reset" in line
        assert b"Traceback" not in out.stderr
    books = how in ("corrupt", "empty")
    path = (state.books_path if books else state.store_path)(home / "data")
    assert path.read_bytes() == data
    assert sorted(p.name for p in (home / "data").iterdir() if p.name.startswith("sandbox"))


def test_only_reset_replaces_an_unusable_sandbox(home: Path) -> None:
    _damaged(home, "corrupt")
    out = run(home, "sandbox")
    assert out.returncode == 2 and b"--reset" in out.stderr
    out = run(home, "sandbox", "--reset", "--size", "200")
    assert out.returncode == 0, text(out)
    assert out.stdout.startswith(b"sandbox: generated 200-SKU catalog at ")
    info = state.info(home / "data")
    assert info is not None and info["size"] == 200


def test_a_sandbox_being_written_by_another_process_is_read_not_regenerated(
    home: Path,
) -> None:
    """WAL: another process in the middle of a long write (the console's sync) does not stop
    a CLI refresh from reading the store, nor makes the sandbox look unusable."""
    path = state.store_path(home / "data")
    holder = sqlite3.connect(path, isolation_level=None)
    # Without WAL, an exclusive write lock would keep every reader out until it commits.
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE products SET name = name")
    try:
        assert not ensure_sandbox(home / "data")  # usable: kept, not regenerated
        out = run(home, "refresh")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert out.returncode == 0, text(out)
    assert b"store items" in out.stdout


def test_a_locked_sandbox_says_so_and_is_kept(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = state.books_path(home / "data")
    before = path.read_bytes()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")  # a process that keeps it to itself
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(state, "LOCK_TIMEOUT", 0.05)
    try:
        with pytest.raises(state.SandboxStateError) as raised:
            ensure_sandbox(home / "data")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "is locked by another process" in str(raised.value)
    assert str(sandbox_dir(home / "data")) in str(raised.value)
    assert path.read_bytes() == before


def test_sandbox_command_prepares_without_the_console(tmp_path: Path) -> None:
    out = run(tmp_path, "sandbox", "--size", "250")
    assert out.returncode == 0, text(out)
    assert out.stdout.startswith(b"sandbox: generated 250-SKU catalog at ")
    # The first generation says what it does on stderr (a large one takes seconds).
    assert b"Generating the sandbox" in out.stderr
    again = run(tmp_path, "sandbox", "--size", "250")
    assert again.stdout.startswith(b"sandbox: kept the existing 250-SKU catalog")
    assert b"Generating" not in again.stderr
    assert run(tmp_path, "sandbox", "--size", "0").returncode == 2


def test_generation_reports_progress_as_it_goes(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    ensure_sandbox(tmp_path, size=25_000, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) >= 3  # during the work, not only at the end
    assert seen[-1] == (25_000, 25_000)
    assert all(total == 25_000 for _, total in seen)
