"""Guards against mass damage, for `sync` and `auto` (issue 12).

The worst incidents of this trade are not one wrong value but thousands: a feed that read empty
or half and zeroed a store, a first sync that overwrote the wrong side. A person looking at a
plan would stop those; unattended, these rules do. They are pure functions over a plan, the
refresh's item counts and the pair's thresholds, and they only ever *refuse*: a refused plan is
applied only with an explicit confirmation (`--yes --allow-mass-change`), which `auto` never
gives itself.

Defaults (PairConfig; each a `[pairs.X]` key):
- `guard_short_read = "10%"`: a side that read empty, or more than 10 % fewer items than the
  refresh before, is a broken feed far more often than a seller deleting a tenth of a catalog
  between two syncs; a slow decline (a few % per refresh) passes.
- `guard_zeroed = "20%"`: setting more than a fifth of the target's stocked items to zero at once
  is what an empty or all-zero feed looks like; a real sell-out day touches a few %.
- `guard_price_share = "10%"` of prices changed by more than `guard_price_change = "50%"`: a sale
  moves prices by 10-30 %; halving or doubling a tenth of a catalog is a wrong column, a currency
  or a decimal-places mistake.
- `guard_min_items = 10`: the mass rules need at least this many items, so that one legitimate
  change in a tiny catalog (1 of 5 items is already 20 %) is not "mass"; a person reads a plan of
  fewer than ten lines anyway.

What was shown is what runs: `plan_hash` is a short hash over a plan's canonical changes (sku,
side, item id, field, before, after), printed by `--dry-run`; `sync --plan-hash H` applies only
a plan with the same hash, and `compare` says what changed when it is not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tui_sync import money
from tui_sync.config import PairConfig
from tui_sync.model import Plan, Side, side_label

CONFIRM_FLAGS = "--yes --allow-mass-change"


@dataclass(frozen=True, slots=True)
class Thresholds:
    short_read: Decimal = Decimal("0.10")
    zeroed: Decimal = Decimal("0.20")
    price_share: Decimal = Decimal("0.10")
    price_change: Decimal = Decimal("0.50")
    min_items: int = 10

    @classmethod
    def of(cls, pair: PairConfig) -> Thresholds:
        return cls(
            pair.guard_short_read,
            pair.guard_zeroed,
            pair.guard_price_share,
            pair.guard_price_change,
            pair.guard_min_items,
        )


@dataclass(frozen=True, slots=True)
class Counts:
    """What the guards compare a plan against, from the cache after the refresh it was built on."""

    store: int  # items each side read at the last refresh
    backoffice: int
    prev_store: int | None  # the baseline: the refresh before (None: no earlier refresh)
    prev_backoffice: int | None
    target_with_quantity: int  # the target's sellable items that hold a quantity / a price
    target_with_price: int

    def read(self, side: Side) -> tuple[int, int | None]:
        if side == "store":
            return self.store, self.prev_store
        return self.backoffice, self.prev_backoffice


def is_short(now: int, before: int | None, share: Decimal) -> bool:
    """`now` items is more than `share` fewer than `before` (no earlier count: never short)."""
    return before is not None and before > 0 and Decimal(before - now) > share * before


def _pct(share: Decimal) -> str:
    return f"{money.text((share * 100).normalize())}%"


def check(the_plan: Plan, counts: Counts, limits: Thresholds) -> list[str]:
    """Why this plan must not run unconfirmed, one line per rule it breaks ([] = it may run).

    A plan with nothing to write is never refused: refusing it would protect nothing."""
    if the_plan.is_empty:
        return []
    reasons: list[str] = []
    for side in ("store", "backoffice"):
        now, before = counts.read(side)
        label = side_label(side)
        if now == 0:
            reasons.append(f"short read: the {label} read empty (0 items); is its feed broken?")
        elif is_short(now, before, limits.short_read):
            assert before is not None
            drop = Decimal(before - now) / before
            reasons.append(
                f"short read: the {label} read {now:,} items, {before:,} the refresh before "
                f"({_pct(drop.quantize(Decimal('0.001')))} fewer; guard_short_read "
                f"{_pct(limits.short_read)})"
            )
    target = side_label(the_plan.target)
    zeroed = sum(
        1
        for c in the_plan.changes
        if c.field == "quantity" and c.after is not None and c.after == 0 and c.before != 0
    )
    if zeroed >= max(1, limits.min_items) and zeroed > limits.zeroed * counts.target_with_quantity:
        reasons.append(
            f"mass change: {zeroed:,} of the {target}'s {counts.target_with_quantity:,} "
            f"quantities would be set to zero (guard_zeroed {_pct(limits.zeroed)})"
        )
    big = sum(
        1
        for c in the_plan.changes
        if c.field == "price" and _moves(c.before, c.after, limits.price_change)
    )
    if big >= max(1, limits.min_items) and big > limits.price_share * counts.target_with_price:
        reasons.append(
            f"mass change: {big:,} of the {target}'s {counts.target_with_price:,} prices would "
            f"change by more than {_pct(limits.price_change)} (guard_price_share "
            f"{_pct(limits.price_share)})"
        )
    return reasons


def _moves(before: money.Number | None, after: money.Number | None, limit: Decimal) -> bool:
    """A price changed by more than `limit` of itself; from none or zero, any change is."""
    if after is None:
        return False
    if before is None or before == 0:
        return after != 0
    return abs(Decimal(after) - Decimal(before)) > limit * abs(Decimal(before))


# --- what was shown is what runs ------------------------------------------------------------

Line = tuple[str, str, str, str, str, str]  # sku, side, item id, field, before, after


def plan_lines(the_plan: Plan) -> list[Line]:
    """A plan's changes as canonical text, sorted: what its hash covers. Versions and source
    values are left out: they are how the write is checked, not what a person was shown."""
    return sorted(
        (
            c.sku,
            c.side,
            c.item_id,
            c.field,
            money.text(c.before) or "",
            money.text(c.after) or "",
        )
        for c in the_plan.changes
    )


def hash_lines(lines: Sequence[Line]) -> str:
    text = json.dumps([list(line) for line in lines], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def plan_hash(the_plan: Plan) -> str:
    return hash_lines(plan_lines(the_plan))


def lines_json(lines: Sequence[Line]) -> str:
    return json.dumps([list(line) for line in lines])


def lines_from_json(text: str) -> list[Line]:
    return [(a, b, c, d, e, f) for a, b, c, d, e, f in json.loads(text)]


def compare(shown: Sequence[Line], now: Sequence[Line], examples: int = 3) -> list[str]:
    """What changed between the plan shown and the plan computed now: counts, then examples."""
    old = {line[:4]: line for line in shown}
    new = {line[:4]: line for line in now}
    added = [new[k] for k in new if k not in old]
    removed = [old[k] for k in old if k not in new]
    changed = [(old[k], new[k]) for k in new if k in old and old[k] != new[k]]
    out = [f"{len(added)} line(s) added, {len(removed)} removed, {len(changed)} changed"]

    def show(line: Line) -> str:
        return f"{line[0]} {line[3]} {line[4] or '-'} -> {line[5] or '-'}"

    out += [f"  added:   {show(line)}" for line in added[:examples]]
    out += [f"  removed: {show(line)}" for line in removed[:examples]]
    out += [f"  changed: {show(a)}  now  {show(b)}" for a, b in changed[:examples]]
    return out
