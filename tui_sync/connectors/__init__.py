"""Connectors by kind. The TUI and CLI never pick one themselves: they ask for a pair's two."""

from __future__ import annotations

from pathlib import Path

from tui_sync.config import ConfigError, Connection, PairConfig
from tui_sync.connectors.base import Connector
from tui_sync.model import Side


def open_connector(data_dir: Path, connection: Connection, side: Side) -> Connector:
    if connection.kind == "sandbox":
        from tui_sync.connectors.sandbox import SandboxConnector
        from tui_sync.sandbox.state import ensure_sandbox, state_path

        ensure_sandbox(data_dir)
        connector: Connector = SandboxConnector(state_path(data_dir), side)
        return connector
    # The HTTP connectors (DESIGN.md section 3) slot in here, behind the same protocol.
    raise ConfigError(
        f"connections.{connection.name}: kind {connection.kind!r} has no connector in this "
        "version of tui-sync (available: sandbox)"
    )


def open_pair(data_dir: Path, pair: PairConfig) -> tuple[Connector, Connector]:
    store = open_connector(data_dir, pair.store, "store")
    try:
        backoffice = open_connector(data_dir, pair.backoffice, "backoffice")
    except BaseException:
        store.close()
        raise
    return store, backoffice
