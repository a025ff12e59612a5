"""Where the built-in sandbox keeps its vendors' state, and making sure it exists.

The sandbox pair always exists (DESIGN.md section 2): the first command that needs it generates
the default catalog; `--size N` regenerates at another size and `--reset` starts over. It lives
in `<data_dir>/sandbox/`, apart from the cache, because it stands for the vendors' servers:

    bigcommerce.db   the sandbox BigCommerce store (`bigcommerce_state`)
    quickbooks.db    the sandbox QuickBooks Online company (`qbo_state`)
    catalog.json     {"size", "seed", "created", "store_items", "backoffice_items"}: written
                     last, so its presence says both files are complete

A sync writes there through the servers, a refresh reads it back, and only `--reset` starts it
over. A sandbox that exists but cannot be used (locked, truncated, corrupt) is never regenerated
silently: it holds every earlier sync to it, so `SandboxStateError` says so instead.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tui_sync.connectors.base import ConnectorError

DEFAULT_SIZE = 2000
FOLDER = "sandbox"
STORE_FILE = "bigcommerce.db"
BOOKS_FILE = "quickbooks.db"
META_FILE = "catalog.json"
SEED = 7
RESET = "`tui-sync sandbox --reset` (or `demo --reset`) starts a new one, losing earlier syncs"
_HEADER = b"SQLite format 3\x00"
# How long to wait for another process's write to the state before saying it is locked.
LOCK_TIMEOUT = 10.0
LOCKED = "locked by another process"

# progress(done, total): SKUs generated so far, out of the catalog's size.
GenerateProgress = Callable[[int, int], None]


class SandboxStateError(ConnectorError):
    """The sandbox exists but cannot be used (locked, truncated, corrupt). Never regenerated
    behind the user's back: the message names the folder and what to do."""


def sandbox_dir(data_dir: Path) -> Path:
    return data_dir / FOLDER


def store_path(data_dir: Path) -> Path:
    return sandbox_dir(data_dir) / STORE_FILE


def books_path(data_dir: Path) -> Path:
    return sandbox_dir(data_dir) / BOOKS_FILE


def _damage(path: Path) -> str | None:
    """What is wrong with one state file, from its SQLite header, before SQLite reads it: an
    empty or cut file would otherwise open as an empty database, or fail only mid-refresh."""
    try:
        with path.open("rb") as file:
            header = file.read(100)
        size = path.stat().st_size
    except OSError as error:
        return error.strerror or type(error).__name__
    if not header:
        return "the file is empty"
    if len(header) < 100 or not header.startswith(_HEADER):
        return "not an SQLite database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count in the header is only valid when its "version valid for" matches the
    # change counter (SQLite file format, section 1.3.7); a WAL may hold pages beyond it.
    wal = path.with_name(path.name + "-wal")
    if header[24:28] == header[92:96] and size < page_size * pages and not wal.exists():
        return f"truncated: {size:,} of {page_size * pages:,} bytes"
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=LOCK_TIMEOUT)
        try:
            # A read that needs the schema: a database locked by a writer says so here.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        return LOCKED if "locked" in reason else reason
    return None


def info(data_dir: Path) -> dict[str, object] | None:
    """The catalog's meta (size and seed as int), or None when there is no sandbox.

    A sandbox that exists but cannot be used raises SandboxStateError: callers must never take
    it for a missing one and generate over it."""
    folder = sandbox_dir(data_dir)
    if not folder.exists():
        return None
    where = f"sandbox state {folder}"
    if not folder.is_dir():
        raise SandboxStateError(f"{where} is not a folder; {RESET}")
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not isinstance(meta.get("size"), int):
            raise ValueError("no catalog size")
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise SandboxStateError(f"{where} is unreadable ({META_FILE}: {reason}); {RESET}") from None
    for name in (STORE_FILE, BOOKS_FILE):
        damage = _damage(folder / name)
        if damage == LOCKED:
            raise SandboxStateError(f"{where} is {LOCKED} ({name}); try again when it is done")
        if damage:
            raise SandboxStateError(f"{where} is unreadable ({name}: {damage}); {RESET}")
    return dict(meta)


def ensure_sandbox(
    data_dir: Path,
    size: int | None = None,
    reset: bool = False,
    progress: GenerateProgress | None = None,
) -> bool:
    """Generate the sandbox if it is missing, reset, or asked at another size; True if it did.

    Raises `SandboxStateError` for an existing sandbox that cannot be used, unless `reset`."""
    current: int | None = None
    try:
        meta = info(data_dir)
    except SandboxStateError:
        if not reset:
            raise
        meta = None  # the user asked for a new one: the unusable one is replaced
    if meta is not None:
        current = int(str(meta["size"]))
        if not reset and (size is None or size == current):
            return False
    generate(data_dir, size or current or DEFAULT_SIZE, progress)
    return True


def generate(data_dir: Path, size: int, progress: GenerateProgress | None = None) -> None:
    """(Re)create both vendors' state from the seeded catalog, deterministically.

    Built in a scratch folder and moved into place, so a failure never leaves half a sandbox."""
    from tui_sync.sandbox import catalog, seed

    data_dir.mkdir(parents=True, exist_ok=True)
    folder = sandbox_dir(data_dir)
    scratch = data_dir / f".{FOLDER}.tmp-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        drawn = scratch / "catalog.db"
        catalog.generate(drawn, size, seed=SEED, progress=progress)
        conn = sqlite3.connect(drawn)
        try:
            seed.bigcommerce(conn, scratch / STORE_FILE)
            seed.quickbooks(conn, scratch / BOOKS_FILE)
            counts = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        finally:
            conn.close()
        drawn.unlink()
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta = {
            "size": size,
            "seed": SEED,
            "created": created,
            "store_items": int(counts.get("store_items", 0)),
            "backoffice_items": int(counts.get("backoffice_items", 0)),
        }
        (scratch / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
        old = data_dir / f".{FOLDER}.old-{os.getpid()}"
        if folder.exists() or folder.is_symlink():
            os.replace(folder, old)
        os.replace(scratch, folder)
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
