"""Plan, apply and undo (DESIGN.md section 5).

`plan` turns selected rows into the exact field writes, and lists every refusal with its reason.
`apply` journals each batch before sending it, lets the connector refuse anything changed since it
was read (conflict), records what was written in the cache and re-scores the touched rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tui_sync import journal
from tui_sync.cache import Cache
from tui_sync.config import PairConfig
from tui_sync.connectors import open_pair
from tui_sync.connectors.base import Connector
from tui_sync.model import (
    FIELDS,
    Capabilities,
    Change,
    Field,
    Plan,
    Refusal,
    Row,
    Side,
    Status,
    WriteResult,
    other_side,
    side_label,
)
from tui_sync.reconcile import Policy, rescore

ApplyProgress = Callable[[int, int], None]


class SyncError(Exception):
    """A sync cannot start (bad field list, unknown run). One line."""


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
    return tuple(f for f in FIELDS if f in wanted)


_UNSYNCABLE = {
    Status.BASE: "base product: only its variants sync",
    Status.STORE_ONLY: "unmatched: only in the store",
    Status.BACKOFFICE_ONLY: "unmatched: only in the back office",
    Status.DUPLICATE_SKU: "duplicate SKU: resolve it before syncing",
}


def _same(
    field_name: Field, a: int | Decimal | None, b: int | Decimal | None, tolerance: Decimal
) -> bool:
    if a is None or b is None:
        return a is b
    if field_name == "price":
        return abs(Decimal(a) - Decimal(b)) <= tolerance
    return a == b


def plan(
    pair: PairConfig,
    rows: Iterable[Row],
    target: Side,
    fields: Sequence[Field],
    capabilities: Capabilities,
) -> Plan:
    """The writes that would make `target` equal the other side for these rows and fields."""
    result = Plan(pair=pair.name, target=target, fields=tuple(fields))
    source_side = other_side(target)
    for row in rows:
        reason = _UNSYNCABLE.get(row.status)
        if reason:
            result.refusals.append(Refusal(row.sku, None, reason))
            continue
        source, dest = row.side(source_side), row.side(target)
        assert source is not None and dest is not None  # matched rows have both sides
        counts = (len(result.changes), len(result.refusals))
        for field_name in fields:
            before, after = dest.value(field_name), source.value(field_name)
            if field_name not in capabilities.writable:
                why = f"the {side_label(target)} cannot write {field_name}"
            elif field_name == "quantity" and row.status is Status.IN_ORDERS:
                why = f"in orders ({row.pending_quantity} not yet posted): quantity waits"
            elif after is None:
                why = f"no {field_name} in the {side_label(source_side)}"
            elif (
                field_name == "quantity"
                and isinstance(after, int)
                and after < 0
                and not capabilities.negative_quantity
            ):
                why = f"negative quantity {after} (QN): the {side_label(target)} cannot take it"
            elif _same(field_name, before, after, pair.price_tolerance):
                continue
            else:
                result.changes.append(
                    Change(row.sku, target, dest.id, field_name, before, after, dest.version)
                )
                continue
            result.refusals.append(Refusal(row.sku, field_name, why))
        if counts == (len(result.changes), len(result.refusals)):
            result.unchanged += 1
    return result


def _batches(changes: Sequence[Change], capabilities: Capabilities) -> list[list[Change]]:
    """Batches the connector can take: at most batch_size, and when it writes one field per call,
    never two changes of the same item in one batch."""
    size = max(1, capabilities.batch_size)
    if capabilities.multi_field_write:
        return [list(changes[i : i + size]) for i in range(0, len(changes), size)]
    batches: list[list[Change]] = []
    pending = list(changes)
    while pending:
        batch: list[Change] = []
        seen: set[str] = set()
        rest: list[Change] = []
        for change in pending:
            if len(batch) < size and change.item_id not in seen:
                batch.append(change)
                seen.add(change.item_id)
            else:
                rest.append(change)
        batches.append(batch)
        pending = rest
    return batches


@dataclass(frozen=True, slots=True)
class Applied:
    """An applied plan: the run as the journal recorded it."""

    run: journal.Run


def apply(
    data_dir: Path,
    pair: PairConfig,
    the_plan: Plan,
    progress: ApplyProgress | None = None,
    kind: str = "sync",
    undoes: str | None = None,
) -> Applied:
    """Apply a plan; every change ends journaled as done, conflict, failed (or refused)."""
    store, backoffice = open_pair(data_dir, pair)
    try:
        with Cache.open(data_dir) as cache:
            return _apply(cache, pair, the_plan, store, backoffice, progress, kind, undoes)
    finally:
        store.close()
        backoffice.close()


def _apply(
    cache: Cache,
    pair: PairConfig,
    the_plan: Plan,
    store: Connector,
    backoffice: Connector,
    progress: ApplyProgress | None,
    kind: str,
    undoes: str | None,
) -> Applied:
    connector = store if the_plan.target == "store" else backoffice
    run_id = journal.start_run(
        cache, pair.name, kind, the_plan.target, ",".join(the_plan.fields), undoes
    )
    refusals = [(r.sku, the_plan.target, r.field, r.reason) for r in the_plan.refusals]
    journal.record_refusals(cache, run_id, refusals, first_seq=1)
    seq = len(refusals) + 1
    done = 0
    touched: set[tuple[str, str]] = set()
    for batch in _batches(the_plan.changes, connector.capabilities):
        journal.journal_changes(cache, run_id, batch, seq)
        try:
            results = connector.write(batch)
        except Exception as exc:  # a connector error fails this batch, not the whole run record
            results = [WriteResult(c, "failed", _one_line(exc)) for c in batch]
        with cache.transaction():
            for offset, outcome in enumerate(results):
                change = outcome.change
                journal.settle(cache, run_id, seq + offset, outcome.result, outcome.reason)
                if outcome.result == "done":
                    cache.set_item_value(
                        pair.name,
                        change.side,
                        change.item_id,
                        change.field,
                        change.after,
                        outcome.version,
                    )
                    touched.add((change.side, change.item_id))
        seq += len(batch)
        done += len(batch)
        if progress:
            progress(done, len(the_plan.changes))
    if touched:
        rescore(
            cache,
            pair.name,
            policy_for(pair, store, backoffice),
            _positions(cache, pair.name, touched),
        )
    journal.finish_run(cache, run_id)
    (run,) = journal.runs(cache, run_id=run_id)
    return Applied(run)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _positions(cache: Cache, pair: str, touched: set[tuple[str, str]]) -> list[int]:
    found: list[int] = []
    for side, item_id in touched:
        column = "store_rid" if side == "store" else "backoffice_rid"
        found.extend(
            int(p)
            for (p,) in cache.conn.execute(
                f"SELECT r.pos FROM rows AS r JOIN items AS i ON i.rowid = r.{column} "
                "WHERE r.pair = ? AND i.pair = ? AND i.side = ? AND i.id = ?",
                (pair, pair, side, item_id),
            )
        )
    return sorted(set(found))


def policy_for(pair: PairConfig, store: Connector, backoffice: Connector) -> Policy:
    return Policy(pair.price_tolerance, store.capabilities, backoffice.capabilities)


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
    target: Side = "store" if run.target == "store" else "backoffice"
    fields = tuple(f for f in FIELDS if f in run.fields.split(","))
    result = Plan(pair=pair.name, target=target, fields=fields)
    for entry in run.changes:
        if entry.result != "done" or entry.field is None or entry.item_id is None:
            continue
        after = _value(entry.field, entry.before)
        before = _value(entry.field, entry.after)
        result.changes.append(Change(entry.sku, target, entry.item_id, entry.field, before, after))
    return result


def _value(field_name: Field, text: str | None) -> int | Decimal | None:
    if text is None:
        return None
    return int(text) if field_name == "quantity" else Decimal(text)
