"""Properties of an `auto` tick on small generated sandboxes, whatever the pair's policy: with no
outside changes every synced field reads S on a fresh refresh and nothing outside the policy
changed; and a plan a guard refuses is never applied (auto never confirms by itself)."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.writekit import PAIR, remote_items, run_ids, zero_backoffice
from tui_sync import scheduler
from tui_sync.cache import Cache
from tui_sync.config import SANDBOX_PAIR, PairConfig
from tui_sync.model import FIELDS, Field, Side, other_side
from tui_sync.refresh import refresh
from tui_sync.sandbox.state import FOLDER
from tui_sync.views import iter_rows

# The cells that make a row out of sync (QP is not one: pending orders will settle it).
CELLS: dict[Field, tuple[str, ...]] = {
    "quantity": ("Q", "QN"),
    "price": ("P",),
    "cost": ("C",),
}
SETTINGS = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fresh(template: Path, scratch: Path) -> Path:
    data = scratch / f"d{len(list(scratch.iterdir()))}"
    data.mkdir()
    shutil.copytree(template, data / FOLDER)
    return data


def tick(data: Path, pair: PairConfig) -> scheduler.TickResult:
    return asyncio.run(scheduler.tick(data, pair, asyncio.Event()))


@SETTINGS
@given(
    master=st.sampled_from(("store", "backoffice")),
    fields=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True),
)
def test_a_tick_syncs_the_policy_and_nothing_else(
    template: Path, scratch: Path, master: Side, fields: list[Field]
) -> None:
    data = fresh(template, scratch)
    ordered = tuple(f for f in FIELDS if f in fields)
    pair = replace(SANDBOX_PAIR, master=master, fields=ordered)
    target = other_side(master)
    before = remote_items(data)
    result = tick(data, pair)
    assert result.ok and result.plan is not None, result.line
    the_plan = result.plan

    # Nothing outside the policy moved: the master as it was, the target only in its fields and
    # only where the plan wrote.
    planned = {(c.item_id, c.field) for c in the_plan.changes}
    after = remote_items(data)
    assert after.keys() == before.keys()
    for (side, item_id), values in before.items():
        for k, field_name in enumerate(FIELDS):
            if side != target or (item_id, field_name) not in planned:
                assert after[(side, item_id)][k] == values[k], (side, item_id, field_name)
    if the_plan.changes:
        assert result.run is not None and result.run.kind == "auto"
        assert result.run.count("done") == len(the_plan.changes)

    # A fresh full refresh reads every synced field S, except what the plan refused (named).
    refused = {(r.sku, r.field) for r in the_plan.refusals}
    refresh(data, pair, full=True)
    with Cache.open(data) as cache:
        rows = list(iter_rows(cache, PAIR, statuses=scheduler.POLICY_STATUSES))
    for row in rows:
        for field_name in ordered:
            if (row.sku, field_name) in refused or (row.sku, None) in refused:
                continue
            for code in CELLS[field_name]:
                assert row.cells[code] != "N", (row.sku, field_name, code, row.cells)


@SETTINGS
@given(
    zeroed=st.integers(0, 45),
    share=st.sampled_from(("0.1", "0.2", "0.3")),
    least=st.sampled_from((5, 10)),
)
def test_a_guarded_plan_is_never_applied_without_confirmation(
    template: Path, scratch: Path, zeroed: int, share: str, least: int
) -> None:
    data = fresh(template, scratch)
    pair = replace(SANDBOX_PAIR, guard_zeroed=Decimal(share), guard_min_items=least)
    refresh(data, pair)
    zero_backoffice(data, zeroed)
    with Cache.open(data) as cache:
        stocked = cache.sellable_with(PAIR, "store", "quantity")
    before = remote_items(data)
    result = tick(data, pair)
    should_refuse = zeroed >= least and zeroed > Decimal(share) * stocked
    assert bool(result.guarded) == should_refuse, (result.line, result.guarded)
    if result.guarded:
        assert not result.ok and result.run is None
        assert remote_items(data) == before  # nothing written
        assert run_ids(data) == []  # and no run recorded
    else:
        assert result.ok, result.line
        assert result.plan is not None
        to_zero = [c for c in result.plan.changes if c.field == "quantity" and c.after == 0]
        assert len(to_zero) == zeroed
