"""A plan as JSON: what the console hands to the process that applies it (and, later, a plan a
seller reviewed and saves for cron). Values keep their exact text; nothing is a float.

A plan read back is only a request: applying it still re-reads the source and lets the target
refuse anything changed since it was read, so a stale file can never overwrite newer data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tui_sync import money
from tui_sync.model import FIELDS, SIDES, Change, Field, Plan, Refusal, Side
from tui_sync.money import Number

FORMAT = "tui-sync-plan/1"


class PlanFileError(Exception):
    """A plan file that cannot be used. One line naming the file."""


def _value(field: Field, value: Number | None) -> str | None:
    return money.text(value)


def _parse(field: Field, text: object) -> Number | None:
    if text is None:
        return None
    if field == "quantity":
        return money.parse_quantity(text)
    return money.parse_money(text)


def to_json(plan: Plan) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "pair": plan.pair,
        "target": plan.target,
        "fields": list(plan.fields),
        "unchanged": plan.unchanged,
        "notes": list(plan.notes),
        "changes": [
            {
                "sku": c.sku,
                "side": c.side,
                "item_id": c.item_id,
                "field": c.field,
                "before": _value(c.field, c.before),
                "after": _value(c.field, c.after),
                "version": c.version,
                "ref": c.ref,
                "key": c.key,
                "source_id": c.source_id,
                "source_value": _value(c.field, c.source_value),
            }
            for c in plan.changes
        ],
        "refusals": [{"sku": r.sku, "field": r.field, "reason": r.reason} for r in plan.refusals],
    }


def from_json(data: object, where: str = "plan") -> Plan:
    try:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        target = data["target"]
        if target not in SIDES:
            raise ValueError(f"target {target!r}")
        side: Side = "store" if target == "store" else "backoffice"
        fields = tuple(f for f in FIELDS if f in data["fields"])
        plan = Plan(pair=str(data["pair"]), target=side, fields=fields)
        plan.unchanged = int(data.get("unchanged", 0))
        plan.notes = [str(n) for n in data.get("notes", [])]
        for c in data["changes"]:
            field: Field = _field(c["field"])
            if c["side"] != side:
                raise ValueError("a change for the other side")
            plan.changes.append(
                Change(
                    sku=str(c["sku"]),
                    side=side,
                    item_id=str(c["item_id"]),
                    field=field,
                    before=_parse(field, c["before"]),
                    after=_parse(field, c["after"]),
                    version=None if c.get("version") is None else str(c["version"]),
                    ref=None if c.get("ref") is None else str(c["ref"]),
                    key=str(c.get("key") or ""),
                    source_id=None if c.get("source_id") is None else str(c["source_id"]),
                    source_value=_parse(field, c.get("source_value")),
                )
            )
        for r in data.get("refusals", []):
            refused = None if r.get("field") is None else _field(r["field"])
            plan.refusals.append(Refusal(str(r["sku"]), refused, str(r["reason"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{where}: not a usable plan ({exc})") from None
    return plan


def _field(text: object) -> Field:
    for field in FIELDS:
        if text == field:
            return field
    raise ValueError(f"unknown field {text!r}")


def dumps(plan: Plan) -> str:
    return json.dumps(to_json(plan))


def write(plan: Plan, path: Path) -> None:
    path.write_text(dumps(plan), encoding="utf-8")


def read(path: Path) -> Plan:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanFileError(f"{path}: cannot read the plan ({exc})") from None
    return from_json(data, str(path))
