"""BigCommerce on the wire: exact JSON numbers, rate-limit headers, error bodies, order statuses.

Shared by the connector and the sandbox server, so both speak the same dialect of JSON: money
goes out as a JSON number written from its `Decimal` text (never through a float) and comes in
with `parse_float=Decimal`.
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any

import httpx

# A Decimal is written as a marked string, then the marks are replaced by the bare digits: the
# json module has no hook to write a raw number. The nonce keeps a hostile name (which json
# escapes anyway) from ever looking like a mark.
_NONCE = secrets.token_hex(8)
_MARK = re.compile(r'"\\u0000' + _NONCE + r'([-+0-9.]+)"')


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return "\u0000" + _NONCE + f"{value:f}"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: object) -> bytes:
    text = json.dumps(value, default=_default, separators=(",", ":"))
    return _MARK.sub(lambda m: m.group(1), text).encode()


def loads(data: bytes | str) -> Any:
    return json.loads(data, parse_float=Decimal)


# Orders v2 status ids [S9] (CONNECTORS.md 1.5).
STATUSES: dict[int, str] = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}
# Taken stock, not yet fulfilled (CONNECTORS.md 1.5): Awaiting Fulfillment, Awaiting Shipment,
# Awaiting Pickup, Partially Shipped, Manual Verification Required, Awaiting Payment.
PENDING_DEFAULT: tuple[int, ...] = (11, 9, 8, 3, 12, 7)
# Never pending, whatever a pair's list says: no stock is held for them any more.
NEVER_PENDING = frozenset({2, 4, 5, 6, 10})


def status_ids(names: tuple[str, ...] | None) -> tuple[int, ...]:
    """A pair's `pending_statuses` (ids or names, any case) as status ids; unknown names are a
    clear error rather than a silently empty In Orders view."""
    if names is None:
        return PENDING_DEFAULT
    by_name = {v.casefold(): k for k, v in STATUSES.items()}
    found: list[int] = []
    for name in names:
        text = name.strip()
        sid = int(text) if text.isdigit() else by_name.get(text.casefold())
        if sid is None or sid not in STATUSES:
            known = ", ".join(f"{k} {v}" for k, v in STATUSES.items())
            raise ValueError(f"pending_statuses: unknown BigCommerce status {name!r} ({known})")
        if sid not in NEVER_PENDING:
            found.append(sid)
    return tuple(dict.fromkeys(found))


# --- rate limits [S1][S5] ------------------------------------------------------------------


def _ms(response: httpx.Response, name: str) -> float | None:
    value = response.headers.get(name)  # httpx headers are case-insensitive [S1]
    try:
        return None if value is None else max(0.0, float(value) / 1000)
    except ValueError:
        return None


def quota_wait(response: httpx.Response) -> float | None:
    """Seconds until the quota refreshes, from `X-Rate-Limit-Time-Reset-Ms`.

    CONFLICT [S1][S5]: one page calls it the milliseconds left in the window, another the size
    of the window. Both readings are safe if the wait is the value itself, capped at one
    window (`X-Rate-Limit-Time-Window-Ms`): after at most one window the quota is new."""
    reset = _ms(response, "x-rate-limit-time-reset-ms")
    window = _ms(response, "x-rate-limit-time-window-ms")
    if reset is None:
        return None
    return min(reset, window) if window else reset


def back_off(response: httpx.Response) -> float | None:
    """How long a 429 asks us to wait: the reset time, else `X-Retry-After` or `Retry-After`
    (seconds) [S5]; a 429 with none of them is platform-wide load: back off longer [S5].
    A 5xx carries the quota headers too, which say nothing about when to retry it: only a
    `Retry-After` counts there (else the shared client's own increasing delays)."""
    throttled = response.status_code == 429
    wait = quota_wait(response) if throttled else None
    if wait is not None:
        return wait
    for name in ("x-retry-after", "retry-after"):
        value = response.headers.get(name)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return 5.0 if throttled else None


def describe_error(response: httpx.Response) -> str:
    """The v3 error body `{status, title, type, errors{field: msg}}` [S2][S6], the variants
    batch `{batch_errors: [...]}` [S3], or the v2 `[{status, message}]` list [S9], in one line."""
    body = loads(response.content)
    parts: list[str] = []
    entries: list[Any] = []
    if isinstance(body, dict):
        entries = list(body.get("batch_errors") or []) or [body]
    elif isinstance(body, list):
        entries = body
    for entry in entries[:5]:
        if not isinstance(entry, dict):
            continue
        said = str(entry.get("title") or entry.get("message") or "")
        errors = entry.get("errors")
        if isinstance(errors, dict) and errors:
            said += " (" + "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:5]) + ")"
        if said:
            parts.append(said)
    return " / ".join(parts)
