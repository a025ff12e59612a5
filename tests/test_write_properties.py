"""Properties of sync and undo on small sandboxes, whatever is selected and however the two sides
were set apart: after a sync with no outside changes, every written field reads S on a fresh full
refresh and nothing outside the plan changed; undo restores every written value exactly."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.writekit import PAIR, remote_items
from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR
from tui_sync.connectors import capabilities
from tui_sync.model import FIELDS, Change, Field, Side, other_side
from tui_sync.money import Number
from tui_sync.refresh import refresh
from tui_sync.sandbox import outside
from tui_sync.sandbox.state import FOLDER
from tui_sync.sync import apply, plan, plan_undo
from tui_sync.views import iter_rows

CELL: dict[Field, str] = {"quantity": "Q", "price": "P", "cost": "C"}


def _same(held: str | None, value: Number | None) -> bool:
    """A value as a vendor holds it (text) is the one written, whatever its trailing zeros."""
    if held is None or value is None:
        return held is None and value is None
    return Decimal(held) == Decimal(value)


def _number(held: str | None) -> Number | None:
    return None if held is None else Decimal(held)


def _value(field_name: Field, side: Side, n: int, places: int) -> Number:
    if field_name == "quantity":
        return n
    held = 2 if side == "store" else min(places, 4)
    return Decimal(n).scaleb(-held) + 1


perturbation = st.tuples(
    st.integers(0, 10_000),  # which row (modulo the rows there are)
    st.sampled_from(("store", "backoffice")),
    st.sampled_from(FIELDS),
    st.integers(0, 40_000),
    st.sampled_from((2, 3)),  # a back-office price with three places: the store rounds it
)


@settings(
    max_examples=8,  # back-office writes go at QuickBooks' 10 a second
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    target=st.sampled_from(("store", "backoffice")),
    fields=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True),
    changes=st.lists(perturbation, max_size=10),
    picks=st.sets(st.integers(0, 10_000), min_size=1, max_size=80),
)
def test_sync_reads_equal_touches_nothing_else_and_undo_restores_exactly(
    template: Path,
    scratch: Path,
    target: Side,
    fields: list[Field],
    changes: list[tuple[int, Side, Field, int, int]],
    picks: set[int],
) -> None:
    data = scratch / f"d{len(list(scratch.iterdir()))}"
    data.mkdir()
    shutil.copytree(template, data / FOLDER)
    refresh(data, SANDBOX_PAIR)
    with Cache.open(data) as cache:
        rows = list(iter_rows(cache, PAIR))
    matched = [r for r in rows if r.store and r.backoffice and not r.store.is_base]
    for index, side, field_name, n, places in changes:
        item = matched[index % len(matched)].side(side)
        assert item is not None
        outside.set_value(data, side, item.id, field_name, _value(field_name, side, n, places))
    if changes:
        refresh(data, SANDBOX_PAIR)
        with Cache.open(data) as cache:
            rows = list(iter_rows(cache, PAIR))
    selected = [rows[i % len(rows)] for i in sorted(picks)]
    ordered = tuple(f for f in FIELDS if f in fields)
    the_plan = plan(
        SANDBOX_PAIR,
        list({r.key: r for r in selected}.values()),
        target,
        ordered,
        capabilities(SANDBOX_PAIR.store if target == "store" else SANDBOX_PAIR.backoffice, target),
        capabilities(
            SANDBOX_PAIR.backoffice if target == "store" else SANDBOX_PAIR.store,
            other_side(target),
        ),
    )
    before = remote_items(data)
    run = apply(data, SANDBOX_PAIR, the_plan).run

    # Nothing changed outside: every write was done, and only planned fields moved.
    assert [c.result for c in run.changes if c.result != "refused"] == ["done"] * len(
        the_plan.changes
    )
    planned: dict[tuple[str, str, str], Change] = {
        (c.side, c.item_id, c.field): c for c in the_plan.changes
    }
    after = remote_items(data)
    assert after.keys() == before.keys()
    for (where, item_id), values in before.items():
        for k, field_name in enumerate(FIELDS):
            change = planned.get((where, item_id, field_name))
            if change is None:
                assert after[(where, item_id)][k] == values[k], (where, item_id, field_name)
            else:
                assert _same(after[(where, item_id)][k], change.after), (where, item_id)

    # A fresh, full refresh reads every written field as S.
    refresh(data, SANDBOX_PAIR, full=True)
    with Cache.open(data) as cache:
        now = {r.key: r for r in iter_rows(cache, PAIR)}
    for change in the_plan.changes:
        assert now[change.key].cells[CELL[change.field]] == "S", change

    # Undo puts back every written value exactly, and nothing else moves.
    if the_plan.changes:
        with Cache.open(data) as cache:
            undo = plan_undo(cache, SANDBOX_PAIR, run.run_id)
        undone = apply(data, SANDBOX_PAIR, undo, kind="undo", undoes=run.run_id).run
        assert {c.result for c in undone.changes} == {"done"}
        restored = remote_items(data)
        assert restored.keys() == before.keys()
        for key, values in before.items():
            assert all(_same(h, _number(v)) for h, v in zip(restored[key], values, strict=True))
