"""The Selected view: exactly the rows that a sync of "all selected" would act on.

Views of `tui_sync.views` are WHERE clauses over the cache; the selection lives in the grid (a
bit per row position), so this view is a list of positions taken when the view is opened.
"""

from __future__ import annotations

from collections.abc import Sequence

from tui_sync.cache import Cache
from tui_sync.model import Row
from tui_sync.views import View, row_count, rows_at

SELECTED_VIEW = View("selected", "Selected", "Sel", "0")


class SelectedRows:
    """A GridSource over given row positions (ascending)."""

    def __init__(self, cache: Cache, pair: str, positions: Sequence[int]) -> None:
        self.cache = cache
        self.pair = pair
        self.view = SELECTED_VIEW
        self._positions = positions
        self._capacity = max(row_count(cache.conn, pair), positions[-1] + 1 if positions else 0)

    def __len__(self) -> int:
        return len(self._positions)

    @property
    def capacity(self) -> int:
        return self._capacity

    def positions(self) -> Sequence[int]:
        return self._positions

    def fetch(self, start: int, stop: int) -> list[Row]:
        return rows_at(self.cache, self.pair, self._positions[max(start, 0) : max(stop, 0)])
