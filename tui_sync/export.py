"""Rows and plans out of the console: files in the schema of `diff --csv` / `diff --json` (the
serializers of `report`, not a second pair), plan files for `sync --plan`, and clipboard text.

Rows are streamed from the cache a page at a time on the caller's connection, so an export of a
million rows never holds them; a file is written beside its final name and renamed into place,
so a half-written export never looks like a whole one.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO

from tui_sync import plan_io, report
from tui_sync.model import Plan, Row
from tui_sync.views import stream_rows

Format = Literal["csv", "json"]
FORMATS: tuple[Format, ...] = ("csv", "json")
EXPORT_DIR = "exports"  # in the data dir

# OSC 52 carries the clipboard inside one escape sequence: many terminals (and tmux, by
# default) drop or cut one much past this, without telling anyone. Bigger goes to a file.
CLIPBOARD_LIMIT = 64 * 1024  # bytes of UTF-8 text, before base64


class ExportError(Exception):
    """An export that cannot be written; one line naming the file."""


def write_rows(rows: Iterable[Row], fmt: Format, out: TextIO) -> None:
    if fmt == "json":
        report.diff_json(rows, out)
    else:
        report.diff_csv(rows, out)


def default_path(data_dir: Path, what: str, fmt: str, now: datetime) -> Path:
    return data_dir / EXPORT_DIR / f"{what}-{now:%Y%m%d-%H%M%S}.{fmt}"


def _atomically(path: Path, write: Callable[[TextIO], None]) -> None:
    """Write a new file: never over an existing one (another export, someone's data)."""
    if path.exists():
        raise ExportError(f"{path} exists; choose another name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.link(name, path)  # fails, rather than replaces, if the name was taken meanwhile
    except FileExistsError:
        raise ExportError(f"{path} exists; choose another name") from None
    except OSError as exc:
        raise ExportError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    finally:
        Path(name).unlink(missing_ok=True)


def export_rows(
    data_dir: Path, pair: str, positions: Sequence[int], fmt: Format, path: Path
) -> int:
    """The rows at these positions to a new file; returns how many were written."""
    count = 0

    def counted() -> Iterable[Row]:
        nonlocal count
        for row in stream_rows(data_dir, pair, positions):
            count += 1
            yield row

    _atomically(path, lambda out: write_rows(counted(), fmt, out))
    return count


def export_plan(the_plan: Plan, path: Path) -> None:
    """A plan file (`plan_io`'s format), for `tui-sync sync --plan FILE`."""
    text = plan_io.dumps(the_plan)

    def write(out: TextIO) -> None:
        out.write(text)

    _atomically(path, write)


class _TooBig(Exception):
    pass


class _Capped(io.StringIO):
    """Text up to a size in UTF-8 bytes: stops the serializer early, not after 1M rows."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text.encode("utf-8"))
        if self.size > self.limit:
            raise _TooBig
        return super().write(text)


def clipboard_text(rows: Iterable[Row], limit: int | None = None) -> str | None:
    """The rows as `diff --csv` text, or None when it would be over `limit` bytes."""
    out = _Capped(CLIPBOARD_LIMIT if limit is None else limit)
    try:
        report.diff_csv(rows, out)
    except _TooBig:
        return None
    return out.getvalue()
