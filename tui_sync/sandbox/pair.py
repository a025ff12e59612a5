"""The built-in sandbox pair over HTTP: a sandbox BigCommerce store and a sandbox QuickBooks
Online company, served on 127.0.0.1 by the process that opens the pair.

`serving(data_dir, pair)` is used wherever the pair's connectors are opened
(`connectors.pair_connectors`): for the `sandbox` pair it starts both servers over the state in
`<data_dir>/sandbox/` (generating the default catalog on first use) and yields the pair with
`api_url` and `token_url` pointing at them. A configured pair may use one sandbox side (a
connection of `kind = "sandbox"`, which the config reads as that side): only its server starts.
Any other pair is yielded unchanged.
The real connectors do the rest, exactly as against the vendors. Two processes at once (the
console's child and a CLI sync) each run their own servers over the same SQLite files (WAL, a
busy timeout), as two clients of one vendor would.

The credentials below are the sandbox's own, accepted by nothing else; until the servers start,
the pair's `api_url` is a loopback port that nothing listens on, so a sandbox connector opened
without them fails to connect rather than reach any vendor.

Fault switches (tests and the bench only; `demo` never sets them) live in
`<data_dir>/sandbox/switches.json`, read when the servers start: `{"store": {...},
"books": {...}, "validate": true}`, the names of `BigCommerceSandbox.faults` and of
`quickbooks_api.Faults`; `validate` checks every request against the vendors' specs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_sync.config import SANDBOX_PAIR, Connection, PairConfig, Secret
from tui_sync.model import Side
from tui_sync.sandbox import state

if TYPE_CHECKING:
    from tui_sync.sandbox.bigcommerce_api import BigCommerceSandbox
    from tui_sync.sandbox.quickbooks_api import QboSandbox

SWITCHES_FILE = "switches.json"
# BigCommerce applies absolute adjustments asynchronously [S7]; the sandbox pair's store a
# little later than its answer, as the real one does, without making a demo sync wait long.
ADJUST_DELAY_S = 0.05


def is_sandbox_side(connection: Connection, side: Side) -> bool:
    """Whether a connection is the built-in sandbox's side: the pair's own, or one a config
    file names with `kind = "sandbox"` (under any name)."""
    own = SANDBOX_PAIR.store if side == "store" else SANDBOX_PAIR.backoffice
    return connection.kind == own.kind and connection.settings == own.settings


def uses_sandbox(pair: PairConfig) -> bool:
    return is_sandbox_side(pair.store, "store") or is_sandbox_side(pair.backoffice, "backoffice")


def switches_path(data_dir: Path) -> Path:
    return state.sandbox_dir(data_dir) / SWITCHES_FILE


def set_switches(
    data_dir: Path,
    store: Mapping[str, Any] | None = None,
    books: Mapping[str, Any] | None = None,
    validate: bool | None = None,
) -> None:
    """Turn fault switches on (a value) or off (None) for the next servers started on this
    data dir; switches not named stay as they were."""
    current = _switches(data_dir)
    for side, changes in (("store", store), ("books", books)):
        merged = dict(current.get(side) or {})
        for name, value in (changes or {}).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        current[side] = merged
    if validate is not None:
        current["validate"] = validate
    switches_path(data_dir).write_text(json.dumps(current), encoding="utf-8")


def hold_store(data_dir: Path, gate: Path | None) -> None:
    """The store's server holds every request while `gate` exists (None: never): a test makes
    the file, starts a run, and removes the file when it has seen what it needs."""
    set_switches(data_dir, store={"hold_while": None if gate is None else str(gate)})


def set_latency(data_dir: Path, ms: int | None) -> None:
    """Every answer of both servers this much later (None: at once)."""
    set_switches(data_dir, store={"latency_ms": ms}, books={"latency_ms": ms})


def _switches(data_dir: Path) -> dict[str, Any]:
    try:
        found = json.loads(switches_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _with_url(connection: Connection, **urls: str) -> Connection:
    return replace(connection, settings={**connection.settings, **urls})


def _reveal(settings: Mapping[str, object], key: str) -> str:
    value = settings[key]
    return value.reveal() if isinstance(value, Secret) else str(value)


@contextmanager
def serving(data_dir: Path, pair: PairConfig) -> Iterator[PairConfig]:
    """The pair with its sandbox sides served on loopback (the others untouched), for the
    duration of the block; any other pair as it is."""
    serve_store = is_sandbox_side(pair.store, "store")
    serve_books = is_sandbox_side(pair.backoffice, "backoffice")
    if not (serve_store or serve_books):
        yield pair
        return
    from tui_sync.sandbox.server import RunningServer

    state.ensure_sandbox(data_dir)
    switches = _switches(data_dir)
    validate = bool(switches.get("validate"))
    with ExitStack() as stack:
        if serve_store:
            store = _store(data_dir, switches.get("store") or {}, validate)
            stack.callback(store.conn.close)
            url = stack.enter_context(RunningServer(store.app)).url
            pair = replace(pair, store=_with_url(pair.store, api_url=url))
        if serve_books:
            books = _books(data_dir, switches.get("books") or {}, validate)
            stack.callback(books.company.close)
            url = stack.enter_context(RunningServer(books.app)).url
            token_url = f"{url}/oauth2/v1/tokens/bearer"
            pair = replace(
                pair, backoffice=_with_url(pair.backoffice, api_url=url, token_url=token_url)
            )
        yield pair


def _store(data_dir: Path, faults: Mapping[str, Any], validate: bool) -> BigCommerceSandbox:
    from tui_sync.sandbox.bigcommerce_api import BigCommerceSandbox

    settings = SANDBOX_PAIR.store.settings
    store = BigCommerceSandbox(
        state.store_path(data_dir),
        token=_reveal(settings, "token"),
        store_hash=str(settings["store_hash"]),
        products=0,
        adjust_delay=ADJUST_DELAY_S,
        validate=validate,
    )
    store.faults.update(faults)
    return store


def _books(data_dir: Path, faults: Mapping[str, Any], validate: bool) -> QboSandbox:
    from tui_sync.sandbox.quickbooks_api import Faults, QboSandbox

    settings = SANDBOX_PAIR.backoffice.settings
    books = QboSandbox(
        state.books_path(data_dir),
        realm=str(settings["realm_id"]),
        validate=validate,
        standing_token=_reveal(settings, "refresh_token"),
    )
    known = {f.name for f in fields(Faults)}
    for name, value in faults.items():
        if name in known:
            default = getattr(books.faults, name)
            setattr(books.faults, name, set(value) if isinstance(default, set) else value)
    return books
