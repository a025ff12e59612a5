"""What the headless commands print: the diff table and CSV, plan lines, run reports, the log.

Every string that comes from a store, a back office, a CSV or the cache (SKUs, names, reasons,
pair names) is hostile: it goes through `text.inert` before it reaches a terminal, and through
`text.csv_text` before it reaches a spreadsheet. Columns are padded by terminal cells, not by
characters, so a CJK or emoji SKU does not shift the rest of its line; a SKU longer than its
column is shortened in the middle, so both ends (where SKUs of one product differ) stay readable.

No rich and no textual here (the core stays headless): cell widths come from `unicodedata`.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import TextIO

from tui_sync import journal, money
from tui_sync.cache import Cache
from tui_sync.model import CODES, FIELD_CODES, Item, Plan, QuantityBuffer, Row, side_label
from tui_sync.reconcile import reasons
from tui_sync.text import csv_text, inert

# A SKU column never grows past this; longer SKUs are shortened in the middle.
SKU_CAP = 40
ELLIPSIS = "…"


def _char_cells(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cell_len(text: str) -> int:
    """How many terminal cells `text` (already inert) takes."""
    if text.isascii():
        return len(text)
    return sum(map(_char_cells, text))


def fit(text: str, width: int) -> str:
    """`text` (already inert) in exactly `width` cells: padded on the right, or shortened in the
    middle with an ellipsis so that its start and its end both stay readable."""
    size = cell_len(text)
    if size <= width:
        return text + " " * (width - size)
    keep = max(0, width - 1)
    head_cells, tail_cells = (keep + 1) // 2, keep // 2
    head: list[str] = []
    used = 0
    for char in text:
        if used + _char_cells(char) > head_cells:
            break
        head.append(char)
        used += _char_cells(char)
    tail: list[str] = []
    used_tail = 0
    for char in reversed(text):
        if used_tail + _char_cells(char) > tail_cells:
            break
        tail.append(char)
        used_tail += _char_cells(char)
    shown = "".join(head) + ELLIPSIS + "".join(reversed(tail))
    return shown + " " * max(0, width - cell_len(shown))


def right(text: str, width: int) -> str:
    return " " * max(0, width - cell_len(text)) + text


def sku_width(skus: Iterable[str], floor: int = 3) -> int:
    """The SKU column: as wide as the widest SKU shown (inert), between `floor` and SKU_CAP."""
    width = floor
    for sku in skus:
        width = max(width, cell_len(inert(sku)))
        if width >= SKU_CAP:
            return SKU_CAP
    return width


def cache_sku_width(cache: Cache, pair: str, statuses: Sequence[str]) -> int:
    """`sku_width` of the rows `diff` will print, without reading every row twice: printable
    ASCII SKUs are as wide as they are long (one SQL max), the others are measured one by one."""
    where, args = "pair = ?", [pair]
    if statuses:
        where += f" AND status IN ({', '.join('?' * len(statuses))})"
        args.extend(statuses)
    (longest,) = cache.conn.execute(
        f"SELECT max(length(sku)) FROM rows WHERE {where} AND sku NOT GLOB '*[^ -~]*'", args
    ).fetchone()
    odd = (
        sku
        for (sku,) in cache.conn.execute(
            f"SELECT sku FROM rows WHERE {where} AND sku GLOB '*[^ -~]*'", args
        )
    )
    return max(min(int(longest or 0), SKU_CAP), sku_width(odd, floor=len("SKU")))


def _v(item: Item | None, name: str) -> str:
    if item is None:
        return ""
    value = getattr(item, name)
    return "" if value is None else str(value)


# -- diff ------------------------------------------------------------------------------------

CSV_HEADER = (
    "sku",
    "status",
    *CODES,
    "store_quantity",
    "backoffice_quantity",
    "store_price",
    "backoffice_price",
    "store_cost",
    "backoffice_cost",
    "pending_quantity",
    "name",
)


def diff_table(rows: Iterable[Row], width: int, out: TextIO) -> None:
    out.write(
        f"{fit('SKU', width)} {'STATUS':<16} {'ST.QTY':>7} {'BO.QTY':>7} {'ST.PRICE':>9} "
        f"{'BO.PRICE':>9}  NOT SYNCHRONIZED\n"
    )
    for row in rows:
        n = " ".join(code for code in CODES if row.cells[code] == "N")
        fields = [f for f, codes in FIELD_CODES.items() if any(row.cells[c] == "I" for c in codes)]
        if fields:  # the I cells, by field: what the seller marked (`ignore`)
            n = f"{n}  intended: {','.join(fields)}".lstrip()
        # Numbers are ours (int / Decimal from the cache); only the SKU needs making inert.
        out.write(
            f"{fit(inert(row.sku), width)} {row.status.label:<16} "
            f"{_v(row.store, 'quantity'):>7} {_v(row.backoffice, 'quantity'):>7} "
            f"{_v(row.store, 'price'):>9} {_v(row.backoffice, 'price'):>9}  {n}\n"
        )


def _item_json(item: Item | None) -> dict[str, object] | None:
    if item is None:
        return None
    return {
        "id": item.id,
        "name": item.name,
        "brand": item.brand,
        # Whole quantities are JSON numbers; a fraction is a decimal string, never a float.
        "quantity": money.text(item.quantity)
        if isinstance(item.quantity, Decimal)
        else item.quantity,
        "price": None if item.price is None else str(item.price),
        "cost": None if item.cost is None else str(item.cost),
    }


def row_json(row: Row, buffer: QuantityBuffer | None = None) -> dict[str, object]:
    shown: dict[str, object] = {
        "sku": row.sku,
        "status": row.status.value,
        "cells": dict(row.cells),
        "store": _item_json(row.store),
        "backoffice": _item_json(row.backoffice),
        "pending_quantity": (
            money.text(row.pending_quantity)
            if isinstance(row.pending_quantity, Decimal)
            else row.pending_quantity
        ),
        "reasons": reasons(row, buffer),
    }
    if row.intended:  # only on marked rows: every other row keeps DESIGN.md's exact shape
        # The seller's intended differences (`ignore`); their cells read "I".
        shown["intended"] = [
            {"field": m.field, "note": m.note, "marked_at": m.marked_at} for m in row.intended
        ]
    return shown


def diff_json(rows: Iterable[Row], out: TextIO, buffer: QuantityBuffer | None = None) -> None:
    """One JSON array, a row per line, streamed. Exact data: json.dumps escapes every control
    and (ensure_ascii, its default) every non-ASCII character, so nothing raw reaches a
    terminal even here."""
    out.write("[")
    for i, row in enumerate(rows):
        out.write(("," if i else "") + "\n" + json.dumps(row_json(row, buffer)))
    out.write("\n]\n")


def diff_csv(rows: Iterable[Row], out: TextIO) -> None:
    """Text cells through `csv_text` (no formula, no control); numbers stay numbers, so a
    negative quantity is still -3 for the spreadsheet, not the text '-3."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in rows:
        s, b = row.store, row.backoffice
        writer.writerow(
            [
                csv_text(row.sku),
                row.status.value,
                *(row.cells[c] for c in CODES),
                _v(s, "quantity"),
                _v(b, "quantity"),
                _v(s, "price"),
                _v(b, "price"),
                _v(s, "cost"),
                _v(b, "cost"),
                row.pending_quantity,
                csv_text(row.name),
            ]
        )


# -- plans and runs ----------------------------------------------------------------------------


def plan_lines(the_plan: Plan) -> Iterator[str]:
    yield (
        f"Plan: {len(the_plan.changes)} change(s) to the {side_label(the_plan.target)}, "
        f"{len(the_plan.refusals)} refused, {the_plan.unchanged} already equal"
    )
    width = sku_width([*(c.sku for c in the_plan.changes), *(r.sku for r in the_plan.refusals)])
    for change in the_plan.changes:
        yield (
            f"  write   {fit(inert(change.sku), width)} {change.field:<9} "
            f"{change.before} -> {change.after}"
        )
    for note in the_plan.notes:
        yield f"  note    {inert(note)}"
    for refusal in the_plan.refusals:
        yield (
            f"  refused {fit(inert(refusal.sku), width)} {refusal.field or 'row':<9} "
            f"{inert(refusal.reason)}"
        )


def run_lines(run: journal.Run) -> Iterator[str]:
    yield (
        f"{run.count('done')} done, {run.count('conflict')} conflict(s), "
        f"{run.count('failed')} failed, {run.count('unknown')} unsettled, "
        f"{run.count('refused')} refused"
    )
    troubled = [e for e in run.changes if e.result in ("conflict", "failed", "unknown")]
    width = sku_width(e.sku for e in troubled)
    for entry in troubled:
        reason = f": {inert(entry.reason)}" if entry.reason else ""
        yield f"  {entry.result:<8} {fit(inert(entry.sku), width)} {entry.field or '-'}{reason}"
    yield f"run {inert(run.run_id)} ({inert(run.state)})"


def _value(text: str | None) -> str:
    return "-" if text is None else inert(text)


def log_lines(runs: Sequence[journal.Run], changes: bool) -> Iterator[str]:
    pair_width = max((cell_len(inert(r.pair)) for r in runs), default=4)
    pair_width = min(max(pair_width, 4), 24)
    for run in runs:
        yield (
            f"{inert(run.run_id)}  {inert(run.kind):<5} {fit(inert(run.pair), pair_width)} "
            f"{inert(run.started)}  {inert(run.state):<11} to {inert(run.target or '-'):<10} "
            f"{inert(run.fields):<15} {run.count('done')} done, "
            f"{run.count('conflict')} conflict, {run.count('failed')} failed, "
            f"{run.count('unknown')} unsettled, {run.count('refused')} refused"
        )
        if not changes:
            continue
        width = sku_width(e.sku for e in run.changes)
        for e in run.changes:
            reason = f": {inert(e.reason)}" if e.reason else ""
            yield (
                f"    {fit(inert(e.sku), width)} {inert(e.side):<10} {inert(e.field or '-'):<9} "
                f"{_value(e.before)} -> {_value(e.after)}  {inert(e.result)}{reason}"
            )
