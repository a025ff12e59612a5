"""Runs and their journal: the audit trail of every change a sync or undo applied or refused.

A change is journaled as `unknown`, with its batch's idempotency key, and committed *before* it
is sent, then settled (`done`, `conflict`, `failed`) once the connector answers; a crash in
between leaves an `unknown` that recovery (sync.recover) settles by reading the target, never a
silent half-sync. `after` is what was asked for, `confirmed` what the target said it holds.
Nothing here is ever deleted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tui_sync import money
from tui_sync.cache import Cache, now_utc
from tui_sync.model import Change, ChangeResult, Field, Side
from tui_sync.money import Number

RunKind = str  # "sync" | "undo" | "auto"
WRITABLE_FIELDS: tuple[Field, ...] = ("quantity", "price", "cost")


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    sku: str
    side: Side
    item_id: str | None
    field: Field | None
    before: str | None
    after: str | None
    result: ChangeResult
    reason: str | None
    key: str | None = None
    confirmed: str | None = None

    @property
    def written(self) -> str | None:
        """The value the target holds after this change: what it confirmed, else what we sent."""
        return self.confirmed if self.confirmed is not None else self.after

    def as_json(self) -> dict[str, object]:
        return {
            "sku": self.sku,
            "side": self.side,
            "field": self.field,
            "before": _json_value(self.field, self.before),
            "after": _json_value(self.field, self.written if self.result == "done" else self.after),
            "result": self.result,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    pair: str
    kind: RunKind
    target: Side | None
    fields: str
    started: str
    finished: str | None
    state: str
    undoes: str | None
    changes: list[JournalEntry] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "pair": self.pair,
            "kind": self.kind,
            "started": self.started,
            "finished": self.finished,
            "state": self.state,
            "changes": [c.as_json() for c in self.changes],
        }

    def count(self, result: str) -> int:
        return sum(1 for c in self.changes if c.result == result)


def _json_value(field_name: Field | None, text: str | None) -> object:
    """Whole quantities as JSON numbers, fractions and money as decimal strings (never floats)."""
    if text is None or field_name != "quantity":
        return text
    return int(text) if text.lstrip("-").isdigit() else text


def value_text(value: Number | None) -> str | None:
    return money.text(value)


def start_run(
    cache: Cache,
    pair: str,
    kind: RunKind,
    target: Side | None,
    fields: str,
    undoes: str | None = None,
) -> str:
    """A new run id `r-YYYYMMDD-NNNN` (numbered per day), recorded as running by this process."""
    day = datetime.now(UTC).strftime("%Y%m%d")
    with cache.transaction() as conn:
        last = conn.execute(
            "SELECT max(run_id) FROM runs WHERE run_id LIKE ?", (f"r-{day}-%",)
        ).fetchone()[0]
        number = int(str(last).rsplit("-", 1)[1]) + 1 if last else 1
        run_id = f"r-{day}-{number:04d}"
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
            (run_id, pair, kind, target, fields, now_utc(), f"running:{os.getpid()}", undoes),
        )
    return run_id


_JOURNAL_COLUMNS = (
    "run_id, seq, sku, side, item_id, field, before, after, result, reason, at, batch, key, "
    "confirmed"
)


def journal_changes(cache: Cache, run_id: str, changes: Sequence[Change], batch: str) -> None:
    """Write the changes about to be sent as `unknown`, committed before any is sent. Each
    change's `id` is its sequence number in the run."""
    at = now_utc()
    with cache.transaction() as conn:
        conn.executemany(
            f"INSERT INTO journal ({_JOURNAL_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'unknown', NULL, ?, ?, ?, NULL)",
            [
                (
                    run_id,
                    c.id,
                    c.sku,
                    c.side,
                    c.item_id,
                    c.field,
                    value_text(c.before),
                    value_text(c.after),
                    at,
                    batch,
                    c.key,
                )
                for c in changes
            ],
        )


def record_refusals(
    cache: Cache, run_id: str, rows: list[tuple[str, Side, Field | None, str]], first_seq: int
) -> None:
    at = now_utc()
    with cache.transaction() as conn:
        conn.executemany(
            f"INSERT INTO journal ({_JOURNAL_COLUMNS}) "
            "VALUES (?, ?, ?, ?, NULL, ?, NULL, NULL, 'refused', ?, ?, NULL, NULL, NULL)",
            [
                (run_id, first_seq + i, sku, side, field_name, reason, at)
                for i, (sku, side, field_name, reason) in enumerate(rows)
            ],
        )


def settle(
    cache: Cache,
    run_id: str,
    seq: int,
    result: ChangeResult,
    reason: str | None,
    confirmed: Number | None = None,
) -> None:
    cache.conn.execute(
        "UPDATE journal SET result = ?, reason = ?, confirmed = ?, at = ? "
        "WHERE run_id = ? AND seq = ?",
        (result, reason, value_text(confirmed), now_utc(), run_id, seq),
    )


def finish_run(cache: Cache, run_id: str, state: str | None = None) -> str:
    """Close a run: `done` when every attempted write was done, else `partial` (or the state
    given: `interrupted` for a run that recovery settled after its process died)."""
    unsettled = cache.conn.execute(
        "SELECT count(*) FROM journal WHERE run_id = ? AND result IN ('conflict', 'failed', "
        "'unknown')",
        (run_id,),
    ).fetchone()[0]
    state = state or ("done" if unsettled == 0 else "partial")
    cache.conn.execute(
        "UPDATE runs SET state = ?, finished = COALESCE(finished, ?) WHERE run_id = ?",
        (state, now_utc(), run_id),
    )
    return state


def unknown_changes(cache: Cache, pair: str) -> list[tuple[str, JournalEntry]]:
    """(run id, entry) of every change of the pair still `unknown`: sent, never settled."""
    rows = cache.conn.execute(
        "SELECT j.run_id, j.seq, j.sku, j.side, j.item_id, j.field, j.before, j.after, "
        "j.result, j.reason, j.key, j.confirmed FROM journal AS j JOIN runs AS r "
        "ON r.run_id = j.run_id WHERE r.pair = ? AND j.result = 'unknown' ORDER BY j.run_id, j.seq",
        (pair,),
    ).fetchall()
    return [(str(r[0]), JournalEntry(int(r[1]), *r[2:])) for r in rows]


def undone_by(cache: Cache, run_id: str) -> str | None:
    """The run that already undid this one, if any (an undo that wrote anything)."""
    row = cache.conn.execute(
        "SELECT r.run_id FROM runs AS r WHERE r.undoes = ? AND EXISTS (SELECT 1 FROM journal "
        "AS j WHERE j.run_id = r.run_id AND j.result = 'done') ORDER BY r.run_id LIMIT 1",
        (run_id,),
    ).fetchone()
    return None if row is None else str(row[0])


def _state(raw: str) -> str:
    """A run still marked running by a process that is gone was interrupted."""
    if not raw.startswith("running:"):
        return raw
    pid = int(raw.split(":", 1)[1])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "interrupted"
    except PermissionError:
        return "running"
    return "running"


def runs(
    cache: Cache, pair: str | None = None, run_id: str | None = None, limit: int | None = None
) -> list[Run]:
    """Runs newest first, each with its journal."""
    where, args = [], []
    if pair:
        where.append("pair = ?")
        args.append(pair)
    if run_id:
        where.append("run_id = ?")
        args.append(run_id)
    sql = "SELECT run_id, pair, kind, target, fields, started, finished, state, undoes FROM runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY started DESC, run_id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    found = []
    for r in cache.conn.execute(sql, args).fetchall():
        entries = [
            JournalEntry(int(rec[0]), *rec[1:])
            for rec in cache.conn.execute(
                "SELECT seq, sku, side, item_id, field, before, after, result, reason, key, "
                "confirmed FROM journal WHERE run_id = ? ORDER BY seq",
                (r[0],),
            )
        ]
        found.append(
            Run(r[0], r[1], r[2], r[3], r[4] or "", r[5], r[6], _state(r[7]), r[8], entries)
        )
    return found


@dataclass(frozen=True, slots=True)
class LastWrite:
    """The last change tui-sync made to one field of one item (result `done`), and whether the
    value read since is still the one it wrote: `ours` False means someone else changed it."""

    side: Side
    field: Field
    run_id: str
    written: str | None
    ours: bool


def last_writes(
    cache: Cache, pair: str, side: Side, item_id: str, now: dict[Field, Number | None]
) -> list[LastWrite]:
    """Per field of the item (quantity, price, cost order), our last done write and whether
    `now` (the cache's values, as last read) still holds it. An index lookup: the journal
    rows of this one item."""
    found: dict[str, tuple[str, str | None]] = {}
    for run_id, field_name, after, confirmed in cache.conn.execute(
        "SELECT j.run_id, j.field, j.after, j.confirmed FROM journal AS j JOIN runs AS r "
        "ON r.run_id = j.run_id WHERE j.item_id = ? AND j.side = ? AND r.pair = ? "
        "AND j.result = 'done' AND j.field IS NOT NULL ORDER BY r.started, j.run_id, j.seq",
        (item_id, side, pair),
    ):
        found[str(field_name)] = (str(run_id), confirmed if confirmed is not None else after)
    return [
        LastWrite(side, name, *found[name], _same(now.get(name), found[name][1]))
        for name in WRITABLE_FIELDS
        if name in found
    ]


def _same(value: Number | None, written: str | None) -> bool:
    """Numerically equal (a store answering `19.990` for our `19.99` still holds ours)."""
    if value is None or written is None:
        return value is None and written is None
    try:
        ours = money.parse_money(written, "journal value")
    except money.BadNumber:
        return False
    return ours is not None and ours == value
