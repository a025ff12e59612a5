"""Plan, apply, recover and undo (DESIGN.md section 5).

`plan` turns selected rows into the exact field writes, each value as the target can hold it,
and lists every refusal with its reason. `apply` holds the pair, settles what an earlier run left
unknown, re-reads the source, then for each batch: journals it (with its idempotency key) before
sending, sends it, and settles every change by its id from the connector's typed outcome,
recording the value the target confirmed. A change whose answer was lost is settled by reading
the target back; what cannot be settled stays `unknown` for `recover`, never guessed.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from tui_sync import journal, money
from tui_sync.cache import Cache, CacheThread
from tui_sync.config import PairConfig
from tui_sync.connectors import Connectors, capabilities, pair_connectors
from tui_sync.connectors.base import AuthError, Connector
from tui_sync.lock import PairLock
from tui_sync.model import (
    FIELDS,
    Batch,
    Capabilities,
    Change,
    ChangeResult,
    Field,
    Intent,
    Item,
    Plan,
    QuantityBuffer,
    Refusal,
    Row,
    Side,
    Status,
    WriteResult,
    other_side,
    side_label,
)
from tui_sync.money import Number
from tui_sync.reconcile import Policy, rescore

ApplyProgress = Callable[[int, int], None]

# How long a run may spend waiting on an API that throttles it, and how often it retries a
# batch that was never sent, before the changes are reported as failed.
THROTTLE_BUDGET_S = 60.0
NOT_SENT_RETRIES = 3


class SyncError(Exception):
    """A sync cannot start (bad field list, unknown run, unsettled writes). One line."""


class Unsettled(Exception):
    """A run still has writes nobody could settle (its target could not be read): undo waits.
    One line, exit 1 (a failure, not bad usage)."""


class NothingToDo(Exception):
    """Not an error: the request needs no write (a run already undone). One line, exit 0."""


def parse_fields(text: str) -> tuple[Field, ...]:
    """`quantity,price`, `cost`, `both` (= quantity and price) -> fields in canonical order."""
    wanted: set[str] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if part == "both":
            wanted |= {"quantity", "price"}
        elif part in FIELDS:
            wanted.add(part)
        else:
            raise SyncError(f"--fields: unknown field {part!r} (quantity, price, cost, both)")
    if not wanted:
        raise SyncError("--fields: name at least one field (quantity, price, cost, both)")
    return tuple(f for f in FIELDS if f in wanted)


_UNSYNCABLE = {
    Status.BASE: "base product: only its variants sync",
    Status.STORE_ONLY: "unmatched: only in the store",
    Status.BACKOFFICE_ONLY: "unmatched: only in the back office",
    Status.DUPLICATE_SKU: "duplicate SKU: resolve it before syncing",
}


def same_value(field_name: Field, a: Number | None, b: Number | None, tolerance: Decimal) -> bool:
    """Equal as the grid compares them: prices within the pair's tolerance, the rest exactly."""
    if a is None or b is None:
        return a is b
    if field_name == "price":
        return abs(Decimal(a) - Decimal(b)) <= tolerance
    return Decimal(a) == Decimal(b)


def _as_target_holds(
    field_name: Field,
    value: Number,
    target: Capabilities,
    tolerance: Decimal,
    target_label: str,
) -> tuple[Number | None, str | None]:
    """(value to write, None) or (None, why it is refused): the value as the target keeps it."""
    if field_name == "quantity":
        if isinstance(value, Decimal) and not target.fractional_quantity:
            return None, f"quantity {value} is fractional: the {target_label} keeps whole units"
        return value, None
    held = money.quantize(Decimal(value), target.money_places)
    if held == value:
        return held, None
    allowed = tolerance if field_name == "price" else Decimal(0)
    if abs(held - Decimal(value)) > allowed:
        return None, (
            f"{field_name} {value}: the {target_label} keeps {target.money_places} decimals, "
            f"and {held} would stay out of tolerance"
        )
    return held, None


def plan(
    pair: PairConfig,
    rows: Iterable[Row],
    target: Side,
    fields: Sequence[Field],
    target_caps: Capabilities,
    source_caps: Capabilities | None = None,
) -> Plan:
    """The writes that would make `target` equal the other side for these rows and fields."""
    result = Plan(pair=pair.name, target=target, fields=tuple(fields))
    source_side = other_side(target)
    label = side_label(target)
    buffer = store_buffer(pair) if target == "store" else None
    currencies = (target_caps.currency, source_caps.currency if source_caps else None)
    two_currencies = None not in currencies and currencies[0] != currencies[1]
    for row in rows:
        reason = _UNSYNCABLE.get(row.status)
        if reason:
            result.refusals.append(Refusal(row.sku, None, reason))
            continue
        source, dest = row.side(source_side), row.side(target)
        assert source is not None and dest is not None  # matched rows have both sides
        counts = (len(result.changes), len(result.refusals))
        for field_name in fields:
            before, read = dest.value(field_name), source.value(field_name)
            # The store is kept below the master by the pair's buffer (store_buffer).
            wanted = buffer.apply(read) if buffer and field_name == "quantity" and read else read
            after: Number | None = wanted
            why: str | None = None
            mark = row.intent(field_name)
            if mark is not None:
                why = intended_reason(mark)
            elif field_name not in target_caps.writable:
                why = f"the {label} cannot write {field_name}"
            elif field_name == "quantity" and row.status is Status.IN_ORDERS:
                why = f"in orders ({row.pending_quantity} not yet posted): quantity waits"
            elif wanted is None:
                why = f"no {field_name} in the {side_label(source_side)}"
            elif field_name != "quantity" and two_currencies:
                why = f"currencies differ ({currencies[1]} to {currencies[0]}): {field_name} waits"
            elif field_name == "quantity" and wanted < 0 and not target_caps.negative_quantity:
                why = f"negative quantity {wanted} (QN): the {label} cannot take it"
            else:
                after, why = _as_target_holds(
                    field_name, wanted, target_caps, pair.price_tolerance, label
                )
            if why is not None:
                result.refusals.append(Refusal(row.sku, field_name, why))
                continue
            if same_value(field_name, before, wanted, pair.price_tolerance):
                continue
            if after != wanted:
                result.notes.append(
                    f"{row.sku} {field_name}: {wanted} is written as {after}, as the {label} "
                    "keeps it"
                )
            result.changes.append(
                Change(
                    row.sku,
                    target,
                    dest.id,
                    field_name,
                    before,
                    after,
                    dest.version,
                    ref=dest.ref,
                    key=row.key,
                    source_id=source.id,
                    source_value=read,
                )
            )
        if counts == (len(result.changes), len(result.refusals)):
            result.unchanged += 1
    return result


# --- applying -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applied:
    """An applied plan: the run as the journal recorded it."""

    run: journal.Run


def intended_reason(mark: Intent) -> str:
    return "intended difference" + (f": {mark.note}" if mark.note else "")


def store_buffer(pair: PairConfig) -> QuantityBuffer | None:
    """The pair's quantity buffer, when it applies: the buffer keeps the store below the
    master, so it only acts when the back office is the master and the store is written.
    When the store is the master, there is nothing to keep the store below: it does nothing."""
    if pair.master != "backoffice":
        return None
    return pair.quantity_buffer


def policy_for(pair: PairConfig) -> Policy:
    return Policy(
        pair.price_tolerance,
        capabilities(pair.store, "store"),
        capabilities(pair.backoffice, "backoffice"),
        store_buffer(pair),
    )


def apply(
    data_dir: Path,
    pair: PairConfig,
    the_plan: Plan,
    progress: ApplyProgress | None = None,
    kind: str = "sync",
    undoes: str | None = None,
    wait: float = 0.0,
) -> Applied:
    """Apply a plan while holding the pair; SIGINT or SIGTERM stop it between batches."""
    with PairLock(data_dir, pair.name, kind, wait) as lock:
        return asyncio.run(_apply_locked(data_dir, pair, the_plan, progress, kind, undoes, lock))


async def _apply_locked(
    data_dir: Path,
    pair: PairConfig,
    the_plan: Plan,
    progress: ApplyProgress | None,
    kind: str,
    undoes: str | None,
    lock: PairLock,
) -> Applied:
    stop = asyncio.Event()
    with StopOnSignals(stop):
        db = CacheThread(data_dir)
        try:
            async with pair_connectors(data_dir, pair) as conns:
                await recover(db, pair, conns)
                run = await apply_plan(
                    db, pair, the_plan, conns, progress, stop, kind, undoes, lock
                )
        finally:
            db.close()
    return Applied(run)


class StopOnSignals:
    """SIGINT/SIGTERM set `stop` (the run ends after the batch in flight) instead of killing
    the process inside a write's bookkeeping; a second signal stops at once."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.installed: list[int] = []

    def _signal(self) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()

    def __enter__(self) -> StopOnSignals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._signal)
                self.installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in self.installed:
            loop.remove_signal_handler(sig)


async def apply_plan(
    db: CacheThread,
    pair: PairConfig,
    the_plan: Plan,
    conns: Connectors,
    progress: ApplyProgress | None = None,
    stop: asyncio.Event | None = None,
    kind: str = "sync",
    undoes: str | None = None,
    lock: PairLock | None = None,
) -> journal.Run:
    """Apply a plan with connectors already open and the pair already held."""
    target = conns[the_plan.target]
    run_id = await db.call(
        journal.start_run, pair.name, kind, the_plan.target, ",".join(the_plan.fields), undoes
    )
    if lock is not None:
        lock.note(run_id)
    refusals = [(r.sku, the_plan.target, r.field, r.reason) for r in the_plan.refusals]
    await db.call(journal.record_refusals, run_id, refusals, 1)
    seq = len(refusals) + 1
    numbered = [replace(c, id=seq + i) for i, c in enumerate(the_plan.changes)]
    settler = _Settler(db, pair, run_id)
    changes = await _fresh_source(conns[other_side(the_plan.target)], numbered, settler)
    total, sent = len(numbered), len(numbered) - len(changes)
    if progress:
        progress(sent, total)
    versions: dict[str, str] = {}
    stopped: str | None = None
    # Run ids are only unique within one cache (they start over when a cache is moved aside,
    # and another machine syncing the same store numbers its own): a batch key must be unique
    # at the target, or an API that honours idempotency keys answers a new batch from an old
    # record and applies nothing.
    nonce = secrets.token_hex(6)
    for number, batch_changes in enumerate(target.batches(changes), 1):
        if stop is not None and stop.is_set():
            stopped = "not sent: the run was stopped before this batch"
        if stopped:
            await settler.refuse(batch_changes, stopped)
            continue
        kept = await settler.drop_intended(batch_changes)
        sent += len(batch_changes) - len(kept)
        if not kept:
            continue
        # A version a write of this run returned is what the next write of the item carries.
        batch = Batch(
            f"{run_id}-{nonce}-{number}",
            tuple(replace(c, version=versions.get(c.item_id, c.version)) for c in kept),
        )
        await db.call(journal.journal_changes, run_id, batch.changes, batch.key)
        try:
            results = await _send(target, batch)
        except AuthError as exc:  # refused before anything was sent
            await settler.fail(batch.changes, _one_line(exc))
            stopped = f"not sent: {_one_line(exc)}"
            continue
        await settler.settle(target, batch, results, versions)
        refused_auth = next((r for r in results if r.outcome == "auth_failed"), None)
        if refused_auth is not None:  # the rest of the run would be refused the same way
            stopped = f"not sent: {refused_auth.reason or 'authentication failed'}"
        sent += len(batch.changes)
        if progress:
            progress(sent, total)
    await db.call(journal.finish_run, run_id)
    (run,) = await db.call(lambda cache: journal.runs(cache, run_id=run_id))
    return run


async def _send(target: Connector, batch: Batch) -> list[WriteResult]:
    """Send a batch, retrying what the API throttled (after the time it asks) and what was
    never sent, within a bounded budget; the same idempotency key every time."""
    waited, attempts = 0.0, 0
    final: dict[int, WriteResult] = {}
    todo = batch
    while True:
        try:
            results = await target.write(todo)
        except AuthError:
            if final:  # a retry refused: what the first tries settled still stands
                return [
                    *final.values(),
                    *(
                        WriteResult(c.id, "auth_failed", "authentication failed")
                        for c in todo.changes
                    ),
                ]
            raise
        except Exception as exc:  # sent or not, nobody knows: a read will settle it
            results = [WriteResult(c.id, "unknown", _one_line(exc)) for c in todo.changes]
        retry: list[Change] = []
        delay = 0.0
        by_id = {r.change_id: r for r in results}
        for change in todo.changes:
            outcome = by_id.get(change.id)
            if outcome is None:
                final[change.id] = WriteResult(change.id, "unknown", "no answer for this change")
            elif outcome.outcome == "throttled" and waited < THROTTLE_BUDGET_S:
                retry.append(change)
                delay = max(delay, outcome.retry_after or 1.0)
            elif outcome.outcome == "not_sent" and attempts < NOT_SENT_RETRIES:
                retry.append(change)
                delay = max(delay, 0.2 * 2**attempts)
            else:
                final[change.id] = outcome
        if not retry:
            return list(final.values())
        delay = min(delay, THROTTLE_BUDGET_S - waited) if waited < THROTTLE_BUDGET_S else 0.0
        await asyncio.sleep(max(delay, 0.0))
        waited += delay
        attempts += 1
        todo = Batch(batch.key, tuple(retry))


async def _fresh_source(
    source: Connector, changes: list[Change], settler: _Settler
) -> list[Change]:
    """Re-read the source of every change; one whose source moved since the plan was shown is
    reported as a conflict and not written stale."""
    ids = sorted({c.source_id for c in changes if c.source_id is not None})
    if not ids:
        return changes
    current = await read_many(source, ids)
    fresh: list[Change] = []
    stale: list[tuple[Change, str]] = []
    for change in changes:
        if change.source_id is None:
            fresh.append(change)
            continue
        item = current.get(change.source_id)
        if item is None:
            stale.append((change, f"the {side_label(source.side)} item no longer exists"))
            continue
        now = item.value(change.field)
        if now != change.source_value:
            stale.append(
                (
                    change,
                    f"the {side_label(source.side)} now says {now} (was {change.source_value} "
                    "when planned): not written stale",
                )
            )
        else:
            fresh.append(change)
    await settler.stale(stale)
    return fresh


async def read_many(connector: Connector, ids: Sequence[str]) -> dict[str, Item]:
    """`read_current` over any number of ids, in the connector's chunks, several at once."""
    size = max(1, connector.capabilities.read_batch)
    gate = asyncio.Semaphore(max(1, connector.capabilities.max_in_flight))

    async def one(chunk: Sequence[str]) -> dict[str, Item]:
        async with gate:
            return await connector.read_current(chunk)

    parts = await asyncio.gather(*(one(ids[i : i + size]) for i in range(0, len(ids), size)))
    found: dict[str, Item] = {}
    for part in parts:
        found.update(part)
    return found


class _Settler:
    """Settles changes in the journal and the cache, rescoring their rows batch by batch."""

    def __init__(self, db: CacheThread, pair: PairConfig, run_id: str) -> None:
        self.db = db
        self.pair = pair
        self.run_id = run_id
        self.policy = policy_for(pair)

    async def refuse(self, changes: Sequence[Change], reason: str) -> None:
        def record(cache: Cache) -> None:
            with cache.transaction():
                journal.journal_changes(cache, self.run_id, changes, "not-sent")
                for change in changes:
                    journal.settle(cache, self.run_id, change.id, "refused", reason)

        await self.db.call(record)

    async def drop_intended(self, changes: Sequence[Change]) -> list[Change]:
        """A sync's changes less those whose field was marked an intended difference since
        the plan was made (in the console, or by `ignore` during a tick's plan): refused, not
        written. An undo (no source) restores what a run wrote, mark or not."""
        keys = sorted({c.key for c in changes if c.source_id is not None and c.key})
        if not keys:
            return list(changes)
        marks = await self.db.call(lambda cache: cache.intents(self.pair.name, keys))
        if not marks:
            return list(changes)
        keep: list[Change] = []
        dropped: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            mark = next((m for m in marks.get(change.key, ()) if m.covers(change.field)), None)
            if mark is None or change.source_id is None:
                keep.append(change)
            else:
                dropped[intended_reason(mark)].append(change)
        for reason, refused in dropped.items():
            await self.refuse(refused, f"{reason} (marked after the plan was made)")
        return keep

    async def stale(self, stale: Sequence[tuple[Change, str]]) -> None:
        if not stale:
            return

        def record(cache: Cache) -> None:
            with cache.transaction():
                journal.journal_changes(cache, self.run_id, [c for c, _ in stale], "not-sent")
                for change, why in stale:
                    journal.settle(cache, self.run_id, change.id, "conflict", why)

        await self.db.call(record)

    async def fail(self, changes: Sequence[Change], reason: str) -> None:
        def record(cache: Cache) -> None:
            with cache.transaction():
                for c in changes:
                    journal.settle(cache, self.run_id, c.id, "failed", reason)

        await self.db.call(record)

    async def settle(
        self,
        target: Connector,
        batch: Batch,
        results: Sequence[WriteResult],
        versions: dict[str, str],
    ) -> None:
        by_id = {r.change_id: r for r in results}
        unknown = [c for c in batch.changes if by_id.get(c.id, _NO_ANSWER).outcome == "unknown"]
        if unknown:
            # The answer was lost: read the target back rather than guess. A read that fails
            # too leaves the changes unknown, for `recover` to settle later. Where the API
            # applies writes late, a value still as before is read again until it may show.
            side = unknown[0].side
            connection = self.pair.store if side == "store" else self.pair.backoffice
            wait = capabilities(connection, side).applies_within_s
            deadline = asyncio.get_running_loop().time() + wait
            while unknown:
                current: dict[str, Item] | None
                try:
                    current = await read_many(target, sorted({c.item_id for c in unknown}))
                except Exception:
                    break
                settled = {c.id: _settled_by_read(c, current.get(c.item_id)) for c in unknown}
                by_id.update(settled)
                unknown = [c for c in unknown if settled[c.id].reason == NOT_APPLIED]
                if unknown and asyncio.get_running_loop().time() >= deadline:
                    if wait:  # it may still land: for `recover`, not a guess
                        by_id.update({c.id: _NO_ANSWER for c in unknown})
                    break
                if unknown:
                    await asyncio.sleep(min(0.25, wait))

        def record(cache: Cache) -> None:
            keys: set[str] = set()
            with cache.transaction():
                for change in batch.changes:
                    outcome = by_id.get(change.id, _NO_ANSWER)
                    _record(cache, self.pair.name, self.run_id, change, outcome, versions)
                    if outcome.outcome in ("done", "conflict"):
                        keys.add(change.key)
                # Rows are rescored in the transaction that records their items' new values:
                # a run killed after this batch must not leave rows that disagree with their
                # items (a later incremental refresh sees no change there and rescores nothing).
                if keys:
                    rescore(cache, self.pair.name, self.policy, sorted(keys))

        await self.db.call(record)


_NO_ANSWER = WriteResult(0, "unknown", "no answer for this change")
NOT_APPLIED = "no answer, and not applied: safe to sync again"


def _settled_by_read(change: Change, item: Item | None) -> WriteResult:
    """A change whose answer was lost, settled by what the target holds now."""
    if item is None:
        return WriteResult(change.id, "rejected", "the item no longer exists on the target")
    now = item.value(change.field)
    if now is not None and change.after is not None and Decimal(now) == Decimal(change.after):
        return WriteResult(change.id, "done", "confirmed by reading back", now, item.version)
    if now == change.before:
        return WriteResult(change.id, "rejected", NOT_APPLIED, now)
    return WriteResult(
        change.id, "conflict", f"{change.field} is {now} now (no answer to our write)", now
    )


def _record(
    cache: Cache,
    pair: str,
    run_id: str,
    change: Change,
    outcome: WriteResult,
    versions: dict[str, str],
) -> None:
    kind = outcome.outcome
    value = outcome.value
    reason = outcome.reason
    already = value is not None and change.after is not None and value == change.after
    if kind == "conflict" and already:
        # Someone (or an earlier, unsettled try) already wrote it: equal, not a conflict, and
        # the log must not carry the conflict's wording ("quantity is 5 now, was 12 ...").
        kind = "done"
        reason = f"already equal: the {side_label(change.side)} holds {value}"
    if kind == "done":
        confirmed = value if value is not None else change.after
        journal.settle(cache, run_id, change.id, "done", reason, confirmed)
        cache.set_item_value(
            pair, change.side, change.item_id, change.field, confirmed, outcome.version
        )
        if outcome.version is not None:
            versions[change.item_id] = outcome.version
    elif kind == "conflict":
        journal.settle(cache, run_id, change.id, "conflict", outcome.reason)
        if value is not None:  # the target told us what it holds: the grid shows the truth
            cache.set_item_value(
                pair, change.side, change.item_id, change.field, value, outcome.version
            )
        if outcome.version is not None:
            versions[change.item_id] = outcome.version
    elif kind == "unknown":
        journal.settle(cache, run_id, change.id, "unknown", outcome.reason)
    else:  # rejected, auth_failed, throttled or not_sent past their budget
        why = outcome.reason or kind.replace("_", " ")
        journal.settle(cache, run_id, change.id, "failed", why)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- recovery -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recovered:
    done: int = 0
    not_applied: int = 0
    conflict: int = 0
    unknown: int = 0  # could not be read this time either

    @property
    def total(self) -> int:
        return self.done + self.not_applied + self.conflict + self.unknown


NOTHING_RECOVERED = Recovered()


def _close_dead_runs(cache: Cache, pair: str) -> None:
    """Runs of this pair still marked running, with no unknown change left: their process
    died between writes. Holding the pair, none of them can be alive: close them as
    interrupted now, so no reused pid can ever make one look alive."""
    with cache.transaction() as conn:
        dead = [
            str(r[0])
            for r in conn.execute(
                "SELECT run_id FROM runs WHERE pair = ? AND state LIKE 'running:%' AND NOT EXISTS "
                "(SELECT 1 FROM journal AS j WHERE j.run_id = runs.run_id "
                "AND j.result = 'unknown')",
                (pair,),
            )
        ]
        for run_id in dead:
            journal.finish_run(cache, run_id, "interrupted")


async def recover(db: CacheThread, pair: PairConfig, conns: Connectors) -> Recovered:
    """Settle every change a dead run left `unknown`, by reading its target: the value written
    means done, the value before means not applied, anything else is a conflict. Call it
    holding the pair (no live run can then have unknown changes)."""
    await db.call(_close_dead_runs, pair.name)
    pending = await db.call(journal.unknown_changes, pair.name)
    if not pending:
        return NOTHING_RECOVERED
    by_side: dict[Side, list[tuple[str, journal.JournalEntry]]] = defaultdict(list)
    for run_id, entry in pending:
        by_side[entry.side].append((run_id, entry))
    counts = {"done": 0, "not_applied": 0, "conflict": 0, "unknown": 0}
    settled: list[tuple[str, journal.JournalEntry, str, str | None, Number | None]] = []
    for side, entries in by_side.items():
        ids = sorted({e.item_id for _, e in entries if e.item_id is not None})
        try:
            current = await read_many(conns[side], ids)
        except Exception:
            counts["unknown"] += len(entries)
            continue
        for run_id, entry in entries:
            verdict, reason, value = _verdict(entry, current.get(entry.item_id or ""))
            counts[verdict] += 1
            settled.append((run_id, entry, verdict, reason, value))

    def record(cache: Cache) -> None:
        with cache.transaction():
            runs: set[str] = set()
            for run_id, entry, verdict, reason, value in settled:
                runs.add(run_id)
                result: ChangeResult = _RECOVERED[verdict]
                confirmed = value if verdict == "done" else None
                journal.settle(cache, run_id, entry.seq, result, reason, confirmed)
                if value is not None and entry.field is not None and entry.item_id is not None:
                    cache.set_item_value(
                        pair.name, entry.side, entry.item_id, entry.field, value, None
                    )
            for run_id in runs:
                # A run whose process died is `interrupted`; one that ended with a read that
                # failed keeps the state its own counts give.
                raw = cache.conn.execute(
                    "SELECT state FROM runs WHERE run_id = ?", (run_id,)
                ).fetchone()[0]
                journal.finish_run(
                    cache, run_id, "interrupted" if str(raw).startswith("running:") else None
                )
        keys = sorted({e.key for _, e, *_ in settled if e.key})
        if keys:
            rescore(cache, pair.name, policy_for(pair), keys)

    await db.call(record)
    return Recovered(**counts)


_RECOVERED: dict[str, ChangeResult] = {
    "done": "done",
    "not_applied": "failed",
    "conflict": "conflict",
}


def _verdict(
    entry: journal.JournalEntry, item: Item | None
) -> tuple[str, str | None, Number | None]:
    if item is None or entry.field is None:
        return "conflict", "recovered: the item no longer exists on the target", None
    now = item.value(entry.field)
    after = _value(entry.field, entry.after)
    before = _value(entry.field, entry.before)
    if now is not None and after is not None and Decimal(now) == Decimal(after):
        return "done", "recovered: the target holds the value written", now
    if now == before or (
        now is not None and before is not None and Decimal(now) == Decimal(before)
    ):
        return "not_applied", "recovered: never applied (the run was interrupted)", now
    return "conflict", f"recovered: {entry.field} is {now} now, neither before nor after", now


def settle_unknown(data_dir: Path, pair: PairConfig, wait: float = 0.0) -> Recovered:
    """Recovery on its own (the console on open, `log`): holds the pair while it reads."""

    async def run() -> Recovered:
        db = CacheThread(data_dir)
        try:
            async with pair_connectors(data_dir, pair) as conns:
                return await recover(db, pair, conns)
        finally:
            db.close()

    with PairLock(data_dir, pair.name, "recovery", wait):
        return asyncio.run(run())


# --- undo -----------------------------------------------------------------------------------


def plan_undo(cache: Cache, pair: PairConfig, run_id: str) -> Plan:
    """The reverse of a run's done changes: write back each `before`, only where the value is
    still the one the run wrote (the connector checks, as for any sync)."""
    found = journal.runs(cache, run_id=run_id)
    if not found:
        raise SyncError(f"unknown run {run_id!r} (see `tui-sync log`)")
    run = found[0]
    if run.pair != pair.name:
        raise SyncError(f"run {run_id} belongs to pair {run.pair!r}, not {pair.name!r}")
    if run.target not in ("store", "backoffice"):
        raise SyncError(f"run {run_id} wrote nothing to undo")
    unsettled = run.count("unknown")
    if unsettled:
        raise Unsettled(
            f"run {run_id} still has {unsettled} unsettled write(s) that could not be read "
            "back; undo waits until a refresh or sync settles them"
        )
    by = journal.undone_by(cache, run_id)
    if by is not None:
        raise NothingToDo(f"run {run_id} was already undone by {by}: nothing to write")
    target: Side = "store" if run.target == "store" else "backoffice"
    fields = tuple(f for f in FIELDS if f in run.fields.split(","))
    result = Plan(pair=pair.name, target=target, fields=fields)
    for entry in run.changes:
        if entry.result != "done" or entry.field is None or entry.item_id is None:
            continue
        after = _value(entry.field, entry.before)
        before = _value(entry.field, entry.written)
        moved = _changed_since(cache, pair.name, target, entry.item_id, entry.field, before)
        if moved is not None:
            # Someone (a person, another run) wrote it after this run: restoring would overwrite
            # their value, so the plan says so instead of writing.
            result.refusals.append(Refusal(entry.sku, entry.field, moved))
            continue
        result.changes.append(
            Change(
                entry.sku, target, entry.item_id, entry.field, before, after, key=entry.key or ""
            )
        )
    return result


def _changed_since(
    cache: Cache, pair: str, side: Side, item_id: str, field_name: Field, written: Number | None
) -> str | None:
    """Why a value the run wrote cannot be restored, as the cache last read it: it has changed
    since (None when it still holds what the run wrote). The connector checks again on write."""
    found = cache.conn.execute(
        f"SELECT {field_name} FROM items WHERE pair = ? AND side = ? AND id = ?",  # closed Field
        (pair, side, item_id),
    ).fetchone()
    if found is None:
        return f"not restored: the item is no longer on the {side_label(side)}"
    try:
        now = _value(field_name, found[0])
    except ValueError:
        now = None
    if now == written:
        return None
    shown = "empty" if found[0] is None else str(found[0])
    return f"not restored: changed since by someone else (now {shown}, this run wrote {written})"


def _value(field_name: Field, text: str | None) -> Number | None:
    if text is None:
        return None
    if field_name == "quantity":
        return money.parse_quantity(text)
    return money.parse_money(text)
