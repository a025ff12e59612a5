"""Intended differences (`tui-sync ignore`): the I cell, the views and counts, the plan's refusal,
the marks kept across refreshes, and the one-line errors; through the real CLI and cache."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.writekit import remote_items
from tui_sync import intended
from tui_sync.cache import Cache
from tui_sync.cli import main
from tui_sync.config import SANDBOX_PAIR
from tui_sync.connectors import capabilities
from tui_sync.model import CODES, FIELD_CODES, Row, Status
from tui_sync.refresh import refresh
from tui_sync.sync import apply, plan
from tui_sync.views import iter_rows, view_counts

PAIR = "sandbox"


def cli(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), *args])


def rows(data_dir: Path, **kw: object) -> list[Row]:
    with Cache.open(data_dir) as cache:
        return list(iter_rows(cache, PAIR, **kw))  # type: ignore[arg-type]


def row_of(data_dir: Path, sku: str) -> Row:
    (found,) = rows(data_dir, skus=[sku])
    return found


def counts(data_dir: Path) -> dict[str, int]:
    with Cache.open(data_dir) as cache:
        return view_counts(cache, PAIR)


def only_price_out(data_dir: Path) -> Row:
    """An out-of-sync row whose only discrepancy is its price."""
    refresh(data_dir, SANDBOX_PAIR)
    for row in rows(data_dir, statuses=["out_of_sync"]):
        if {c for c in ("Q", "QN", "C") if row.cells[c] == "N"} == set() and row.cells["P"] == "N":
            return row
    raise AssertionError("the sandbox has no row with only its price out of sync")


def test_ignore_price_reads_i_leaves_the_out_of_sync_views_and_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = only_price_out(data_dir)
    before = counts(data_dir)
    assert cli(data_dir, "ignore", row.sku, "price", "--note", "clearance price") == 0
    out = capsys.readouterr().out
    assert f"{row.sku} price: intended difference (clearance price)" in out
    assert "now In sync" in out

    marked = row_of(data_dir, row.sku)
    assert marked.cells["P"] == "I" and marked.status is Status.IN_SYNC
    after = counts(data_dir)
    assert after["out_of_sync"] == before["out_of_sync"] - 1
    assert after["price"] == before["price"] - 1
    assert after["all"] == before["all"]

    assert cli(data_dir, "diff", "--json") == 0
    (shown,) = [r for r in json.loads(capsys.readouterr().out) if r["sku"] == row.sku]
    assert shown["cells"]["P"] == "I" and shown["status"] == "in_sync"
    assert shown["intended"][0]["field"] == "price"
    assert shown["intended"][0]["note"] == "clearance price"
    assert "price: intended difference: clearance price" in shown["reasons"]
    assert cli(data_dir, "diff") == 0
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(row.sku)]
    assert line.rstrip().endswith("intended: price")
    assert cli(data_dir, "diff", "--csv") == 0
    (record,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(row.sku)]
    assert record.split(",")[2 + CODES.index("P")] == "I"
    # `--exit-code` does not count an intended difference as out of sync.
    assert cli(data_dir, "diff", "--status", "in_sync", "--exit-code") == 0

    remote = remote_items(data_dir)
    assert cli(data_dir, "sync", "--to", "store", "--fields", "price", "--sku", row.sku) == 0
    out = capsys.readouterr().out
    assert "intended difference: clearance price" in out
    assert "nothing to write" in out
    assert remote_items(data_dir) == remote


def test_a_mark_survives_a_full_refresh_and_unignore_restores_the_n(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = only_price_out(data_dir)
    assert cli(data_dir, "ignore", row.sku.lower(), "price") == 0  # SKUs match in any case
    assert cli(data_dir, "refresh", "--full") == 0
    assert row_of(data_dir, row.sku).cells["P"] == "I"
    assert cli(data_dir, "unignore", row.sku, "price") == 0
    assert "price: no longer an intended difference" in capsys.readouterr().out
    again = row_of(data_dir, row.sku)
    assert again.cells["P"] == "N" and again.status is Status.OUT_OF_SYNC
    assert again.intended == ()


def test_a_whole_sku_mark_covers_every_field(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refresh(data_dir, SANDBOX_PAIR)
    row = next(r for r in rows(data_dir, statuses=["out_of_sync"]) if r.cells["Q"] == "N")
    assert cli(data_dir, "ignore", row.sku, "--note", "consignment") == 0
    marked = row_of(data_dir, row.sku)
    for codes in FIELD_CODES.values():
        for code in codes:
            assert marked.cells[code] in ("I", "-"), (code, marked.cells)
    assert marked.cells["Q"] == "I" and marked.status is Status.IN_SYNC
    with Cache.open(data_dir) as cache:
        the_plan = plan(
            SANDBOX_PAIR,
            iter_rows(cache, PAIR, skus=[row.sku]),
            "store",
            ("quantity", "price", "cost"),
            capabilities(SANDBOX_PAIR.store, "store"),
        )
    assert the_plan.changes == []
    assert {(r.field, r.reason) for r in the_plan.refusals} == {
        (f, "intended difference: consignment") for f in ("quantity", "price", "cost")
    }
    assert cli(data_dir, "unignore", row.sku) == 0
    assert row_of(data_dir, row.sku).cells["Q"] == "N"


def test_ignore_list_as_a_table_and_as_json(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refresh(data_dir, SANDBOX_PAIR)
    assert cli(data_dir, "ignore", "--list") == 0
    assert "no intended differences" in capsys.readouterr().out
    first, second = rows(data_dir, statuses=["in_sync"])[:2]
    assert cli(data_dir, "ignore", first.sku, "cost", "--note", "landed\ncost \x1b[31m") == 0
    assert cli(data_dir, "ignore", second.sku) == 0
    capsys.readouterr()
    assert cli(data_dir, "ignore", "--list") == 0
    table = capsys.readouterr().out
    assert "\x1b" not in table and "landed cost ␛[31m" in table
    assert any(ln.startswith(second.sku) and "whole SKU" in ln for ln in table.splitlines())
    assert cli(data_dir, "ignore", "--list", "--json") == 0
    listed = {m["sku"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed[first.sku]["field"] == "cost"
    assert listed[first.sku]["note"] == "landed cost \x1b[31m"  # exact; JSON escapes it
    assert listed[second.sku]["field"] is None
    assert listed[second.sku]["marked_at"].endswith("Z")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("ignore", "NO-SUCH-SKU", "price"), 1, "unknown SKU 'NO-SUCH-SKU'"),
        (("ignore", "{sku}", "stock"), 2, "FIELD: unknown field 'stock'"),
        (("ignore",), 2, "name a SKU"),
        (("ignore", " "), 2, "SKU: empty"),
        (("ignore", "{sku}", "--json"), 2, "--json: only with ignore --list"),
        (("unignore", "{sku}", "price"), 1, "has no price mark"),
        (("unignore", "NO-SUCH-SKU"), 1, "unknown SKU"),
    ],
)
def test_errors_are_one_line_with_their_exit_code(
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    code: int,
    words: str,
) -> None:
    refresh(data_dir, SANDBOX_PAIR)
    sku = rows(data_dir, statuses=["in_sync"])[0].sku
    capsys.readouterr()
    assert cli(data_dir, *(a.format(sku=sku) for a in args)) == code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], lines
    assert captured.out == ""
    with Cache.open(data_dir) as cache:
        assert intended.listing(cache, PAIR) == []


def test_a_mark_made_after_the_plan_is_still_never_written(data_dir: Path) -> None:
    """The console's plan (or a tick's) may be made before the seller marks a field: applying
    refuses the marked field, with the note, and writes the rest."""
    refresh(data_dir, SANDBOX_PAIR)
    out = [r for r in rows(data_dir, statuses=["out_of_sync"]) if r.cells["Q"] == "N"][:2]
    with Cache.open(data_dir) as cache:
        the_plan = plan(
            SANDBOX_PAIR, out, "store", ("quantity",), capabilities(SANDBOX_PAIR.store, "store")
        )
        assert len(the_plan.changes) == 2
        intended.mark(cache, SANDBOX_PAIR, out[0].sku, "quantity", "counted by hand")
    before = remote_items(data_dir)
    run = apply(data_dir, SANDBOX_PAIR, the_plan).run
    by_sku = {e.sku: e for e in run.changes}
    assert by_sku[out[0].sku].result == "refused"
    assert "intended difference: counted by hand" in (by_sku[out[0].sku].reason or "")
    assert by_sku[out[1].sku].result == "done"
    after = remote_items(data_dir)
    assert out[0].store is not None and out[1].store is not None
    assert after[("store", out[0].store.id)] == before[("store", out[0].store.id)]
    assert after[("store", out[1].store.id)] != before[("store", out[1].store.id)]


def test_an_undo_restores_a_field_marked_since(data_dir: Path) -> None:
    """Marking a field after a sync and undoing the sync gives back the value before: an undo
    is not a sync of the marked field but the reverse of one."""
    refresh(data_dir, SANDBOX_PAIR)
    (row,) = [r for r in rows(data_dir, statuses=["out_of_sync"]) if r.cells["Q"] == "N"][:1]
    assert cli(data_dir, "sync", "--to", "store", "--fields", "quantity", "--sku", row.sku) == 0
    run_id = json.loads(_log_json(data_dir))[0]["run_id"]
    assert cli(data_dir, "ignore", row.sku, "quantity") == 0
    assert cli(data_dir, "undo", run_id) == 0
    assert row.store is not None
    restored = remote_items(data_dir)[("store", row.store.id)]
    assert str(restored[0]) == str(row.store.quantity)


def _log_json(data_dir: Path) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert cli(data_dir, "log", "--json") == 0
    return buffer.getvalue()


def test_marking_rescores_only_that_row(data_dir: Path) -> None:
    """No refresh: the mark's own transaction rescores its row, and no other row moves."""
    refresh(data_dir, SANDBOX_PAIR)
    row = only_price_out(data_dir)
    before = {r.key: r.cells for r in rows(data_dir)}
    with Cache.open(data_dir) as cache:
        refreshed_at = cache.refresh_info(PAIR)
        intended.mark(cache, SANDBOX_PAIR, row.sku, "price", "")
        assert cache.refresh_info(PAIR) == refreshed_at
    after = {r.key: r.cells for r in rows(data_dir)}
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {row.key}


def test_a_tick_never_writes_a_marked_field(data_dir: Path) -> None:
    from tui_sync import scheduler

    refresh(data_dir, SANDBOX_PAIR)
    out = [r for r in rows(data_dir, statuses=["out_of_sync"]) if r.cells["Q"] == "N"][:3]
    with Cache.open(data_dir) as cache:
        for r in out:
            intended.mark(cache, SANDBOX_PAIR, r.sku, "quantity", "")
    before = remote_items(data_dir)
    result = asyncio.run(scheduler.tick(data_dir, SANDBOX_PAIR, asyncio.Event()))
    assert result.ok, result.line
    after = remote_items(data_dir)
    for r in out:
        assert r.store is not None
        assert after[("store", r.store.id)][0] == before[("store", r.store.id)][0]
