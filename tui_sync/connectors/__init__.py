"""Connectors by kind. The TUI and CLI never pick one themselves: they ask for a pair's two.

`capabilities` answers from the kind and the config, with no network call and no connector
opened (a csv connection's capabilities are its file's content: one local scan, remembered per
file state): the console reads it to build the sync dialog and never opens a connector itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tui_sync.config import ConfigError, Connection, PairConfig
from tui_sync.connectors.base import Connector
from tui_sync.model import Capabilities, Side

if TYPE_CHECKING:
    import httpx


def _unavailable(connection: Connection) -> ConfigError:
    return ConfigError(
        f"connections.{connection.name}: kind {connection.kind!r} has no connector in this "
        "version of tui-sync (available: csv, bigcommerce, quickbooks)"
    )


def capabilities(connection: Connection, side: Side) -> Capabilities:
    if connection.kind == "csv":
        from tui_sync.connectors import csvfile

        return csvfile.capabilities_for(connection, side)
    if connection.kind == "bigcommerce":
        from tui_sync.connectors import bigcommerce

        return bigcommerce.capabilities_for(connection, side)
    if connection.kind == "quickbooks":
        from tui_sync.connectors import quickbooks

        return quickbooks.capabilities_for(connection, side)
    raise _unavailable(connection)


def open_connector(
    data_dir: Path,
    connection: Connection,
    side: Side,
    pending_statuses: tuple[str, ...] | None = None,
    client: httpx.AsyncClient | None = None,
) -> Connector:
    """A connector for one side. HTTP connectors share `client` (one per pair: see
    `pair_connectors`); opening one makes no network call."""
    if connection.kind == "csv":
        from tui_sync.connectors.csvfile import CsvConnector

        return CsvConnector(connection, side, data_dir, pending_statuses)
    if connection.kind == "quickbooks":
        from tui_sync.connectors.quickbooks import QuickBooksConnector

        return QuickBooksConnector(connection, side, data_dir, client)
    if connection.kind == "bigcommerce":
        from tui_sync.connectors.bigcommerce import BigCommerceConnector
        from tui_sync.connectors.http import new_client

        if client is None:  # a caller outside a pair: its own client (closed with the process)
            client = new_client()
        return BigCommerceConnector(connection, side, client, pending_statuses)
    # Shopify, WooCommerce and Square slot in here, behind the same protocol.
    raise _unavailable(connection)


@asynccontextmanager
async def pair_connectors(data_dir: Path, pair: PairConfig) -> AsyncIterator[Connectors]:
    """Both connectors of a pair, on one shared HTTP client, closed on the way out whatever
    happens."""
    from tui_sync.connectors.http import new_client
    from tui_sync.sandbox.pair import serving

    # The sandbox pair's servers start here, on loopback, for as long as its connectors live.
    with serving(data_dir, pair) as pair:
        async with new_client() as client, _opened(data_dir, pair, client) as connectors:
            yield connectors


@asynccontextmanager
async def _opened(
    data_dir: Path, pair: PairConfig, client: httpx.AsyncClient
) -> AsyncIterator[Connectors]:
    statuses = pair.pending_statuses
    store = open_connector(data_dir, pair.store, "store", statuses, client)
    try:
        backoffice = open_connector(data_dir, pair.backoffice, "backoffice", statuses, client)
    except BaseException:
        await store.aclose()
        raise
    try:
        yield Connectors(store, backoffice)
    finally:
        await store.aclose()
        await backoffice.aclose()


def check_pair(data_dir: Path, pair: PairConfig) -> None:
    """Open and close both connectors: a pair that cannot be opened is one clear error now,
    not a traceback from inside the console later."""
    import asyncio

    from tui_sync.connectors.http import new_client
    from tui_sync.sandbox.pair import uses_sandbox
    from tui_sync.sandbox.state import ensure_sandbox

    if uses_sandbox(pair):
        # Its catalog, not its servers: they start with the work that needs them.
        ensure_sandbox(data_dir)

    async def check() -> None:
        async with new_client() as client, _opened(data_dir, pair, client):
            pass

    asyncio.run(check())


class Connectors:
    """A pair's two connectors, by side."""

    def __init__(self, store: Connector, backoffice: Connector) -> None:
        self.store = store
        self.backoffice = backoffice

    def __getitem__(self, side: Side) -> Connector:
        return self.store if side == "store" else self.backoffice
