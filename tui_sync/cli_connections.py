"""`tui-sync connections [list|test NAME]` (DESIGN.md section 2): which connections exist, where
they point, whether their secrets resolve, and whether one of them really works: auth, one small
read, its capabilities and the rate limit its API showed, in one screen.

Kept out of cli.py, which only wires it in. No secret is ever printed: a secret is reported as
resolving or not, with the config's own one-line reason; the connectors redact their errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tui_sync.config import (
    KINDS,
    SANDBOX_PAIR,
    Config,
    ConfigError,
    Connection,
    Secret,
)
from tui_sync.connectors.base import AuthError, ConnectorError, RateLimit, Sample, Samples
from tui_sync.model import SIDES, Capabilities, Item, Side
from tui_sync.text import inert

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SAMPLE = 5  # items in the test read: one small page
P = TypeVar("P", bound=argparse.ArgumentParser)
# The side a connection of this kind is when no pair says (a csv file may be either).
NATURAL_SIDE: dict[str, Side] = {"quickbooks": "backoffice", "square": "backoffice"}


def add_parser(sub: argparse._SubParsersAction[P], parents: list[P]) -> None:
    connections = sub.add_parser(
        "connections",
        parents=parents,
        help="list the configured connections, or test one (auth, a read, its limits)",
    )
    connections.add_argument(
        "action", nargs="?", choices=["list", "test"], default="list", help="default: list"
    )
    connections.add_argument("name", nargs="?", help="the connection to test")
    connections.add_argument("--json", action="store_true", help="one JSON document")


def run(config: Config, data_dir: Path, args: argparse.Namespace) -> int:
    if args.action == "list":
        if args.name is not None:
            raise ConfigError(f"connections list takes no name (got {inert(args.name)!r})")
        return _list(config, args.json)
    if args.name is None or not args.name.strip():
        raise ConfigError("connections test: name the connection (see `tui-sync connections`)")
    found = all_connections(config).get(args.name.strip())
    if found is None:
        known = ", ".join(all_connections(config))
        raise ConfigError(f"connections test: no connection named {inert(args.name)!r} ({known})")
    return _test(config, data_dir, found, args.json)


# --- what a connection is --------------------------------------------------------------------


def all_connections(config: Config) -> dict[str, Connection]:
    """The configured connections, then the built-in sandbox's two (a configured one of the
    same name wins)."""
    found = dict(config.connections)
    for builtin in (SANDBOX_PAIR.store, SANDBOX_PAIR.backoffice):
        found.setdefault(builtin.name, builtin)
    return found


def uses(config: Config, connection: Connection) -> list[tuple[str, Side]]:
    """(pair, side) of every pair using this connection."""
    pairs = dict(config.pairs)
    pairs.setdefault(SANDBOX_PAIR.name, SANDBOX_PAIR)
    return [
        (pair.name, side)
        for pair in pairs.values()
        for side in SIDES
        if (pair.store if side == "store" else pair.backoffice).name == connection.name
        and (pair.store if side == "store" else pair.backoffice).kind == connection.kind
    ]


def side_of(config: Config, connection: Connection) -> Side:
    used = uses(config, connection)
    if used:
        return used[0][1]
    side = connection.settings.get("side")
    if side in SIDES:
        return "store" if side == "store" else "backoffice"
    return NATURAL_SIDE.get(connection.kind, "store")


def target(connection: Connection) -> str:
    """Where the connection points: the API origin (and the vendor's path for the store), a
    file, or the built-in sandbox."""
    settings = connection.settings
    if connection.kind == "sandbox":
        return "built-in sandbox (in the data dir)"
    if connection.kind == "csv":
        return str(settings["path"])
    if connection.kind == "bigcommerce":
        from tui_sync.connectors.bigcommerce import ORIGIN

        origin = str(settings.get("api_url") or ORIGIN).rstrip("/")
        return f"{origin}/stores/{settings['store_hash']}"
    if connection.kind == "quickbooks":
        from tui_sync.connectors.quickbooks import ORIGIN, SANDBOX_ORIGIN

        default = SANDBOX_ORIGIN if settings.get("environment") == "sandbox" else ORIGIN
        origin = str(settings.get("api_url") or default).rstrip("/")
        return f"{origin}/v3/company/{settings['realm_id']}"
    return str(settings.get("api_url") or settings.get("url") or settings.get("shop") or "-")


def secret_states(connection: Connection) -> dict[str, str]:
    """Each secret key -> "ok" or why it does not resolve (never its value)."""
    states: dict[str, str] = {}
    for key in KINDS[connection.kind].secrets:
        value = connection.settings.get(key)
        if not isinstance(value, Secret):
            continue
        try:
            value.reveal()
            states[key] = "ok"
        except ConfigError as exc:
            states[key] = str(exc).removeprefix(f"{value.where}: ")
    return states


# --- list --------------------------------------------------------------------------------------


def _list(config: Config, as_json: bool) -> int:
    rows: list[dict[str, Any]] = []
    for connection in all_connections(config).values():
        rows.append(
            {
                "name": connection.name,
                "kind": connection.kind,
                "built_in": connection.kind == "sandbox"
                and connection.name not in config.connections,
                "pairs": [{"pair": p, "side": s} for p, s in uses(config, connection)],
                "target": target(connection),
                "secrets": secret_states(connection),
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    table = [("NAME", "KIND", "PAIRS", "TARGET", "SECRETS")]
    for row in rows:
        pairs = ", ".join(f"{p['pair']} ({p['side']})" for p in row["pairs"]) or "-"
        secrets: dict[str, str] = row["secrets"]
        if not secrets:
            said = "none needed"
        elif all(state == "ok" for state in secrets.values()):
            said = "ok (" + ", ".join(secrets) + ")"
        else:
            said = "; ".join(f"{k}: {v}" for k, v in secrets.items() if v != "ok")
            said = f"NOT RESOLVED: {said}"
        table.append((str(row["name"]), str(row["kind"]), pairs, str(row["target"]), said))
    widths = [max(len(inert(line[i])) for line in table) for i in range(4)]
    for line in table:
        cells = [inert(cell).ljust(width) for cell, width in zip(line, widths, strict=False)]
        print("  ".join([*cells, inert(line[4])]).rstrip())
    return EXIT_OK


# --- test --------------------------------------------------------------------------------------


class StepFailed(Exception):
    def __init__(self, step: str, error: Exception) -> None:
        super().__init__(step)
        self.step, self.error = step, error


@dataclass
class Report:
    connection: Connection
    side: Side
    pairs: list[tuple[str, Side]]
    auth: str = ""
    sample: Sample | None = None
    seconds: float = 0.0
    capabilities: Capabilities | None = None
    rate_limit: RateLimit | None = None
    failed: StepFailed | None = None
    notes: list[str] = field(default_factory=list)


async def _probe(config: Config, data_dir: Path, connection: Connection) -> Report:
    from tui_sync.connectors import capabilities, open_connector
    from tui_sync.connectors.http import new_client

    side = side_of(config, connection)
    report = Report(connection, side, uses(config, connection))
    step = "capabilities"
    try:
        report.capabilities = capabilities(connection, side)
        step = "open"
        async with new_client() as client:
            connector = open_connector(data_dir, connection, side, None, client)
            try:
                step = "auth"
                auth = getattr(connector, "auth", None)
                if auth is not None and hasattr(auth, "access_token"):
                    await auth.access_token()  # OAuth: the refresh token buys an access token
                    report.auth = "ok: an access token from the refresh token"
                start = time.perf_counter()
                if isinstance(connector, Samples):
                    if not report.auth:
                        step = "auth and read"
                    report.sample = await connector.sample(SAMPLE)
                    report.rate_limit = report.sample.rate_limit
                    report.auth = report.auth or "ok: the credentials were accepted"
                else:
                    step = "read"
                    report.auth = "not needed (no account)"
                    report.sample = await _first_page(connector)
                report.seconds = time.perf_counter() - start
            finally:
                await connector.aclose()
    except (ConnectorError, ConfigError, OSError) as exc:
        report.failed = StepFailed("auth" if isinstance(exc, AuthError) else step, exc)
    return report


async def _first_page(connector: Any) -> Sample:
    """A connector with no small read of its own (a file, the sandbox): its first page."""
    pages = connector.read_items()
    try:
        async for page in pages:
            items: list[Item] = page
            return Sample(items[:SAMPLE], None)
    finally:
        await pages.aclose()
    return Sample([], 0)


def _hint(error: Exception) -> str:
    from tui_sync.connectors.http import NotSent, ServerError, Throttled

    text = str(error)
    if isinstance(error, NotSent):
        return "; check api_url and that the API is reachable from here"
    if isinstance(error, Throttled):
        return f"; the API is throttling: try again in {error.retry_after:.0f} s"
    if isinstance(error, ServerError):
        return "; the API is failing: try again later"
    if isinstance(error, OSError) and "check" not in text:
        return "; check the path"
    return ""


def failure_line(report: Report) -> str:
    assert report.failed is not None
    name = report.connection.name
    error = report.failed.error
    said = " ".join(str(error).split()).removeprefix(f"connections.{name}: ")
    if isinstance(error, OSError) and not str(error):
        said = type(error).__name__
    return f"connection {name}: {report.failed.step} failed: {said}{_hint(error)}"


def _test(config: Config, data_dir: Path, connection: Connection, as_json: bool) -> int:
    report = asyncio.run(_probe(config, data_dir, connection))
    if as_json:
        print(json.dumps(_report_json(report), indent=2))
    else:
        for line in _report_lines(report):
            print(inert(line))
    if report.failed is not None:
        print(f"tui-sync: {inert(failure_line(report))}", file=sys.stderr)
        return EXIT_USAGE if isinstance(report.failed.error, ConfigError) else EXIT_FAILED
    return EXIT_OK


def _report_json(report: Report) -> dict[str, object]:
    caps = None
    if report.capabilities is not None:
        caps = asdict(report.capabilities)
        caps["writable"] = sorted(report.capabilities.writable)
    sample = report.sample
    return {
        "connection": report.connection.name,
        "kind": report.connection.kind,
        "side": report.side,
        "pairs": [{"pair": p, "side": s} for p, s in report.pairs],
        "target": target(report.connection),
        "ok": report.failed is None,
        "auth": report.auth or None,
        "read": None
        if sample is None
        else {
            "items": len(sample.items),
            "total": sample.total,
            "counted": sample.counted,
            "skus": [item.sku for item in sample.items],
            "seconds": round(report.seconds, 3),
        },
        "capabilities": caps,
        "rate_limit": None if report.rate_limit is None else asdict(report.rate_limit),
        "error": None
        if report.failed is None
        else {"step": report.failed.step, "message": failure_line(report)},
    }


def _yes(flag: bool, yes: str, no: str) -> str:
    return yes if flag else no


def capability_lines(caps: Capabilities) -> list[str]:
    writes = ", ".join(f for f in ("quantity", "price", "cost") if f in caps.writable) or "nothing"
    carries = [n for n, has in (("brands", caps.has_brand), ("costs", caps.has_cost),
                                ("options", caps.has_options)) if has]  # fmt: skip
    return [
        f"writes {writes}; "
        + _yes(caps.multi_field_write, "several fields", "one field")
        + f" a call; {caps.batch_size:,} changes a batch",
        _yes(caps.fractional_quantity, "fractional", "whole")
        + " quantities, "
        + _yes(caps.negative_quantity, "may be negative", "never negative")
        + f"; money to {caps.money_places} places"
        + (f" in {caps.currency}" if caps.currency else "")
        + (f"; {', '.join(carries)}" if carries else ""),
        f"fresh reads of {caps.read_batch:,}; {caps.max_in_flight} in flight; "
        + _yes(caps.incremental, "incremental", "always in full"),
    ]


def rate_limit_lines(rate: RateLimit | None) -> list[str]:
    if rate is None:
        return ["none (no API)"]
    seen = rate.seen
    if seen.get("quota") and seen.get("window_s"):
        text = f"{seen['quota']:.0f} requests per {seen['window_s']:g} s (X-Rate-Limit-*)"
        if "left" in seen:
            text += f": {seen['left']:.0f} left"
        if "reset_s" in seen:
            text += f", resets in {seen['reset_s']:.1f} s"
    else:
        text = f"no rate-limit headers; documented: {rate.documented}"
    return [text, f"tui-sync keeps to {rate.pacing:g} requests a second"]


def _report_lines(report: Report) -> list[str]:
    connection = report.connection
    used = ", ".join(f"{side} of pair {pair}" for pair, side in report.pairs) or "in no pair"
    lines = [
        f"connection {connection.name} ({connection.kind}, {used})",
        f"  target        {target(connection)}",
    ]
    if report.auth:
        lines.append(f"  auth          {report.auth}")
    sample = report.sample
    if sample is not None:
        of = "" if sample.total is None else f" of {sample.total:,} {sample.counted}"
        skus = ", ".join(str(item.sku) for item in sample.items[:3])
        lines.append(
            f"  read          {len(sample.items)} item(s){of} in {report.seconds:.2f} s"
            + (f": {skus}" + (", …" if len(sample.items) > 3 else "") if skus else "")
        )
    if report.capabilities is not None:
        caps = capability_lines(report.capabilities)
        lines.append(f"  capabilities  {caps[0]}")
        lines.extend(f"                {line}" for line in caps[1:])
    if report.failed is None:
        first, *rest = rate_limit_lines(report.rate_limit)
        lines.append(f"  rate limit    {first}")
        lines.extend(f"                {line}" for line in rest)
        lines.append("ok")
    else:
        lines.append(f"  {report.failed.step:<13} FAILED")
    return lines
