"""Plan rules of DESIGN.md section 5 and the journal, on rows built from real reconcile output."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tui_sync import journal
from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR
from tui_sync.connectors.base import group_batches
from tui_sync.model import Capabilities, Change, Item, PendingLine, Row
from tui_sync.reconcile import Policy, reconcile
from tui_sync.sync import parse_fields, plan
from tui_sync.views import iter_rows

STORE = Capabilities(negative_quantity=False)


def rows(
    tmp_path: Path, store: list[Item], back: list[Item], pending: list[PendingLine]
) -> dict[str, Row]:
    cache = Cache.open(tmp_path)
    cache.replace_items("sandbox", "store", store)
    cache.replace_items("sandbox", "backoffice", back)
    cache.replace_pending("sandbox", pending)
    reconcile(cache, "sandbox", Policy())
    return {r.key: r for r in iter_rows(cache, "sandbox")}


def item(id_: str, sku: str, quantity: int = 5, price: str = "10.00", **kw: object) -> Item:
    return Item(id_, sku, "Mug", quantity=quantity, price=Decimal(price), **kw)  # type: ignore[arg-type]


def test_plan_writes_differences_and_refuses_with_reasons(tmp_path: Path) -> None:
    found = rows(
        tmp_path,
        [
            item("1", "Q", quantity=1),
            item("2", "NEG", quantity=0),
            item("3", "ORD", quantity=1, price="9.00"),
            item("4", "SAME"),
            item("5", "ONLY"),
            item("6", "BASE", is_base=True),
            item("7", "DUP"),
            item("8", "DUP"),
        ],
        [
            item("a", "Q", quantity=4),
            item("b", "NEG", quantity=-3),
            item("c", "ORD", quantity=4, price="12.00"),
            item("d", "SAME"),
            item("f", "BASE", is_base=True),
            item("g", "DUP"),
        ],
        [PendingLine("100", "ORD", 3)],
    )
    the_plan = plan(SANDBOX_PAIR, found.values(), "store", ("quantity", "price"), STORE)
    changes = {(c.sku, c.field): (c.before, c.after) for c in the_plan.changes}
    assert changes == {
        ("Q", "quantity"): (1, 4),
        ("ORD", "price"): (Decimal("9.00"), Decimal("12.00")),
    }
    refused = {(r.sku, r.field): r.reason for r in the_plan.refusals}
    assert "in orders" in refused[("ORD", "quantity")]
    assert "negative quantity -3" in refused[("NEG", "quantity")]
    assert "unmatched" in refused[("ONLY", None)]
    assert "base" in refused[("BASE", None)]
    assert "duplicate" in refused[("DUP", None)]
    assert the_plan.unchanged == 1  # SAME


def test_a_target_that_cannot_write_a_field_refuses_it(tmp_path: Path) -> None:
    found = rows(
        tmp_path, [item("1", "A", cost=Decimal("1"))], [item("a", "A", cost=Decimal("2"))], []
    )
    caps = Capabilities(writable=frozenset({"quantity", "price"}))
    the_plan = plan(SANDBOX_PAIR, found.values(), "store", ("cost",), caps)
    assert the_plan.is_empty
    assert the_plan.refusals[0].reason == "the store cannot write cost"


def test_fields_both_means_quantity_and_price() -> None:
    assert parse_fields("both") == ("quantity", "price")
    assert parse_fields("cost, quantity") == ("quantity", "cost")


def test_one_field_per_call_never_batches_two_fields_of_an_item() -> None:
    changes = [
        Change("A", "backoffice", "1", "quantity", 1, 2),
        Change("A", "backoffice", "1", "price", Decimal(1), Decimal(2)),
        Change("B", "backoffice", "2", "quantity", 1, 2),
    ]
    one_field = Capabilities(multi_field_write=False, batch_size=30)
    batches = group_batches(changes, one_field)
    assert [[c.item_id for c in b] for b in batches] == [["1", "2"], ["1"]]
    assert len(group_batches(changes, Capabilities(batch_size=2))) == 2


def test_journal_records_before_sending_and_settles(tmp_path: Path) -> None:
    cache = Cache.open(tmp_path)
    run_id = journal.start_run(cache, "sandbox", "sync", "store", "quantity")
    change = Change("A", "store", "1", "quantity", 1, 2, id=1)
    journal.journal_changes(cache, run_id, [change], f"{run_id}-1")
    (run,) = journal.runs(cache, run_id=run_id)
    assert run.state == "running" and run.changes[0].result == "unknown"
    journal.settle(cache, run_id, 1, "done", None)
    assert journal.finish_run(cache, run_id) == "done"
    (run,) = journal.runs(cache)
    assert run.as_json()["changes"] == [
        {
            "sku": "A",
            "side": "store",
            "field": "quantity",
            "before": 1,
            "after": 2,
            "result": "done",
            "reason": None,
        }
    ]
    assert run_id.startswith("r-") and run_id.endswith("-0001")
