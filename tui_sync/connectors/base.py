"""The Connector protocol: the only way tui-sync talks to a store or a back office.

Connectors are async: each side is read concurrently with the other, several pages in flight up
to the connector's own `capabilities.max_in_flight`, on one shared HTTP client (issue: real
connectors). The CLI drives them with `asyncio.run`; the console runs the CLI itself in a child
process, so no connector ever runs on the UI's thread, or even in its process.

The contract, as real APIs need it:
- `capabilities` is known without a network call (built from the kind and the config).
- `read_items` streams pages; with `since` (a watermark the connector handed out after its last
  read) and `capabilities.incremental`, only what changed. `watermark()` is read after a read.
- `read_current(item_ids)` is a fresh read of given items: the pre-write check where an API has
  no compare-and-set, the settling of a write whose answer was lost, and undo.
- `batches(changes)` groups changes under the connector's own limits (per field, per item).
- `write(batch)` answers one `WriteResult` per change, matched by `change.id`, never by position;
  a change without a result is treated as `unknown` and settled by a read. It must never
  overwrite a value that is no longer `change.before`: that is a `conflict`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tui_sync.model import Batch, Capabilities, Change, Item, PendingLine, Side, WriteResult

# progress(done, total): total is None while the connector cannot tell yet.
Progress = Callable[[int, int | None], None]


class ConnectorError(Exception):
    """A connector could not do its job (API error, bad answer). One line, never a secret."""


class AuthError(ConnectorError):
    """The credentials were refused (401/403): nothing can be read or written until fixed."""


@runtime_checkable
class Connector(Protocol):
    kind: str
    side: Side
    capabilities: Capabilities

    def read_items(
        self, since: str | None = None, progress: Progress | None = None
    ) -> AsyncIterator[list[Item]]:
        """Every item of this side (or those changed since a watermark), a page at a time."""
        ...

    def watermark(self) -> str | None:
        """After a read: where the next incremental read starts (None: no incremental reads)."""
        ...

    async def read_deleted(self, since: str) -> list[str]:
        """Ids of items deleted since a watermark, where the API can tell (else [])."""
        ...

    async def read_pending(self) -> list[PendingLine]:
        """Store side: order lines that take stock and are not yet posted to the back office."""
        ...

    async def posted_orders(self, order_ids: Sequence[str]) -> set[str]:
        """Back-office side: which of these store order ids it has already posted."""
        ...

    async def read_current(self, item_ids: Sequence[str]) -> dict[str, Item]:
        """A fresh read of these items (at most `capabilities.read_batch`); a missing id is
        an item that no longer exists."""
        ...

    def batches(self, changes: Sequence[Change]) -> list[list[Change]]:
        """The changes grouped as this API takes them."""
        ...

    async def write(self, batch: Batch) -> list[WriteResult]:
        """Send one batch; one result per change, matched by change id."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Sample:
    """A small read for `connections test`: a few items, the total the API reports (None when
    it cannot tell), and the rate limit it showed (`RateLimit`), if any."""

    items: list[Item]
    total: int | None
    rate_limit: RateLimit | None = None
    counted: str = "items"  # what `total` counts (BigCommerce counts products)


@dataclass(frozen=True)
class RateLimit:
    """What a connector knows of its API's rate limit after a request: `seen` from the API's own
    headers, else only `documented`; `pacing` is the requests a second it keeps to."""

    pacing: float
    documented: str
    seen: dict[str, float] = field(default_factory=dict)  # quota, window_s, left, reset_s


@runtime_checkable
class Samples(Protocol):
    """A connector that can read a small page on its own (HTTP connectors): one request, not
    the first full page of a catalog read."""

    async def sample(self, limit: int) -> Sample: ...


def group_batches(changes: Sequence[Change], capabilities: Capabilities) -> list[list[Change]]:
    """Batches of at most `batch_size`; when the API writes one field per call, never two
    changes of the same item in one batch (the later one waits for the next batch)."""
    size = max(1, capabilities.batch_size)
    if capabilities.multi_field_write:
        return [list(changes[i : i + size]) for i in range(0, len(changes), size)]
    batches: list[list[Change]] = []
    pending = list(changes)
    while pending:
        batch: list[Change] = []
        seen: set[str] = set()
        rest: list[Change] = []
        for change in pending:
            if len(batch) < size and change.item_id not in seen:
                batch.append(change)
                seen.add(change.item_id)
            else:
                rest.append(change)
        batches.append(batch)
        pending = rest
    return batches
