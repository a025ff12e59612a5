"""The Connector protocol: the only way tui-sync talks to a store or a back office.

Refresh reads every item and the pending orders; sync hands over batches of `Change`s and gets one
`WriteResult` per change. A connector must never overwrite a value that changed since it was
read: each `Change` carries the value read (`before`) and the version token, and a connector that
finds the remote value different answers `conflict` for that change instead of writing.

Connectors are synchronous: the CLI calls them directly and the TUI from thread workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from tui_sync.model import Capabilities, Change, Item, PendingLine, Side, WriteResult

# progress(done, total): total is None while the connector cannot tell yet.
Progress = Callable[[int, int | None], None]


class ConnectorError(Exception):
    """A connector could not do its job (API error, bad answer). One line, never a secret."""


@runtime_checkable
class Connector(Protocol):
    kind: str
    side: Side
    capabilities: Capabilities

    def read_items(self, progress: Progress | None = None) -> Iterator[Item]:
        """Every item of this side, streamed page by page (bases and their variants)."""
        ...

    def read_pending(self) -> Iterator[PendingLine]:
        """Store side: order lines that take stock and are not yet posted to the back office."""
        ...

    def posted_orders(self, order_ids: Sequence[str]) -> set[str]:
        """Back-office side: which of these store order ids it has already posted."""
        ...

    def write(self, changes: Sequence[Change]) -> list[WriteResult]:
        """Write at most `capabilities.batch_size` changes; one result per change, in order."""
        ...

    def close(self) -> None: ...
