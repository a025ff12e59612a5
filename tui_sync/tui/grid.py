"""The discrepancy grid: a virtual Line-API grid over a `GridSource` (STYLE.md, "A virtual grid").

Modelled on toolong's `LogLines`: a `ScrollView` that paints only the lines on screen. Line 0 is a
header that scrolls sideways with the body but never up; line y > 0 shows the row at view index
`scroll_offset.y + y - 1`. Rows come from the source a page at a time into a small LRU, and
painted strips sit in another LRU keyed on what changes their look, so a key press or a paint
costs the same on 2,000 rows or 1,000,000. The selection is a bytearray indexed by `Row.pos`: it
survives view switches and filters, and all of a 1M-row view costs 1 MB.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import compress
from typing import ClassVar, Protocol

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui_sync.model import Row
from tui_sync.tui.columns import (
    CELL_CLASSES,
    SKU_DEFAULT,
    Layout,
    header_cells,
    layout,
    row_cells,
)

PAGE_SIZE = 128  # rows per fetch: a few screens, one indexed SQLite range read
PAGES_KEPT = 8  # ~1,000 rows in memory at most, whatever the view's size
STRIPS_KEPT = 256  # painted lines: a few screens of a tall terminal, in any state
EMPTY_TEXT = "No rows in this view"
ROW_CLASSES = ("grid--header", "grid--cursor", "grid--selected", "grid--empty")


class GridSource(Protocol):
    """What the grid reads: the rows of one view (`views.ViewRows` is the SQLite one)."""

    def __len__(self) -> int: ...

    def fetch(self, start: int, stop: int) -> list[Row]: ...

    def positions(self) -> Sequence[int]: ...

    @property
    def capacity(self) -> int: ...


class DiscrepancyGrid(ScrollView, can_focus=True):
    """The rows of a reconcile with a cursor, a multi-row selection and optional code columns."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First row", show=False),
        Binding("end,ctrl+end", "last", "Last row", show=False),
        Binding("space", "toggle_selection", "Select", show=False),
        Binding("shift+up", "extend(-1)", "Extend up", show=False),
        Binding("shift+down", "extend(1)", "Extend down", show=False),
        Binding("enter", "activate", "Detail", show=False),
        # A column at a time: a character at a time took 22 presses to reach the codes.
        Binding("right", "column(1)", "Next column", show=False),
        Binding("left", "column(-1)", "Previous column", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {*ROW_CLASSES, *CELL_CLASSES}

    # Row classes set only a background, cell classes only a foreground, so the cursor and the
    # selection never hide an S/N colour. The letters and the ▌/✓ marks keep it all legible
    # without colour. Cell colours are chosen, for the default dark and light themes, so that
    # (a) they keep 4.5:1 contrast on the cursor row (tests/test_grid.py measures it) and (b) a
    # 16-colour terminal (TERM=xterm, PuTTY) maps S and N to green and red, not both to grey as
    # the theme's $text-success / $text-error do. Under NO_COLOR the cursor row and N cells are
    # reversed: greyscale tints vanish (1.3:1), reverse video does not.
    DEFAULT_CSS = """
    DiscrepancyGrid {
        background: $surface;
        color: $foreground;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        & > .grid--header { background: $panel; color: $foreground; text-style: bold; }
        & > .grid--cursor { background: $primary 15%; }
        &:focus > .grid--cursor { background: $primary 30%; text-style: bold; }
        &:light > .grid--cursor { background: $primary 8%; }
        &:light:focus > .grid--cursor { background: $primary 12%; }
        &:nocolor > .grid--cursor { text-style: reverse; }
        &:nocolor:focus > .grid--cursor { text-style: reverse bold; }
        & > .grid--selected { background: $accent 12%; }
        & > .grid--empty { color: $text-muted; text-style: italic; }
        & > .grid--mark { color: #ffd75f; text-style: bold; }
        & > .grid--missing { text-style: dim; }
        & > .grid--differs { color: #ff8787; }
        & > .grid--code-s { color: #5fd75f; }
        & > .grid--code-n { color: #ff8787; text-style: bold; }
        & > .grid--code-warn { color: #ffd75f; text-style: bold; }
        & > .grid--code-info { color: #5fafff; }
        & > .grid--code-intended { color: #d7afff; text-style: italic; }
        & > .grid--code-none { text-style: dim; }
        & > .grid--status-in-sync { color: #5fd75f; }
        & > .grid--status-out-of-sync { color: #ff8787; }
        & > .grid--status-in-orders { color: #ffd75f; }
        & > .grid--status-base { text-style: dim; }
        & > .grid--status-unmatched { color: #ff87ff; }
        & > .grid--status-duplicate { color: #ffaf00; text-style: bold underline; }
        &:light > .grid--mark { color: #5f3f00; }
        &:light > .grid--differs { color: #a00000; }
        &:light > .grid--code-s { color: #005f00; }
        &:light > .grid--code-n { color: #a00000; }
        &:light > .grid--code-warn { color: #5f3f00; }
        &:light > .grid--code-info { color: #00008b; }
        &:light > .grid--code-intended { color: #5f005f; }
        &:light > .grid--status-in-sync { color: #005f00; }
        &:light > .grid--status-out-of-sync { color: #a00000; }
        &:light > .grid--status-in-orders { color: #5f3f00; }
        &:light > .grid--status-unmatched { color: #800080; }
        &:light > .grid--status-duplicate { color: #5f3f00; }
        &:nocolor > .grid--code-n { text-style: bold reverse; }
        &:nocolor > .grid--differs { text-style: bold; }
        &:nocolor > .grid--code-none { text-style: none; }
    }
    """

    class _Message(Message):
        def __init__(self, grid: DiscrepancyGrid | None) -> None:
            super().__init__()
            self.grid = grid

        @property
        def control(self) -> DiscrepancyGrid | None:  # so @on(..., "#grid") selectors work
            return self.grid

    class CursorMoved(_Message):
        """The cursor is on another row (`None`: the view is empty)."""

        def __init__(self, row: Row | None, *, grid: DiscrepancyGrid | None = None) -> None:
            super().__init__(grid)
            self.row = row

    class SelectionChanged(_Message):
        """The number of selected rows (in all views) may have changed."""

        def __init__(self, count: int, *, grid: DiscrepancyGrid | None = None) -> None:
            super().__init__(grid)
            self.count = count

    class RangeChosen(_Message):
        """Space while a range is anchored (`v`): select from the anchor to the cursor."""

    class RowActivated(_Message):
        """Enter (or a double click) on a row."""

        def __init__(self, row: Row, *, grid: DiscrepancyGrid | None = None) -> None:
            super().__init__(grid)
            self.row = row

    show_details: reactive[bool] = reactive(False, init=False)
    cursor_row: reactive[int] = reactive(0, repaint=False, init=False)

    # What an empty view says: the app names the first refresh while it runs.
    empty_text: reactive[str] = reactive(EMPTY_TEXT, init=False)

    def __init__(
        self,
        source: GridSource | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._source = source  # None: no view yet, shown as an empty one
        self._count = len(source) if source is not None else 0
        self._pages: LRUCache[int, list[Row]] = LRUCache(PAGES_KEPT)
        # Keyed on (view index, cursor?, selected?); cleared when anything else changes the look
        # (source, data, layout, theme, focus), so the key stays small.
        self._strips: LRUCache[tuple[int, bool, bool], Strip] = LRUCache(STRIPS_KEPT)
        self._header: Strip | None = None
        self._styles: dict[str, Style] | None = None
        self._layout: Layout = layout(0, False)
        self._longest_sku = SKU_DEFAULT
        self._bits = bytearray(source.capacity if source is not None else 0)
        self._selected = 0
        self._in_view = 0  # selected rows that the current view holds
        self.range_anchor: int | None = None  # the view index `v` anchored a range at

    # --- the view -----------------------------------------------------------------------------

    @property
    def source(self) -> GridSource | None:
        return self._source

    @property
    def row_count(self) -> int:
        return self._count

    def set_source(self, source: GridSource, keep_cursor: bool = False) -> None:
        """Show another view (a view switch, a filter, a new reconcile). The selection stays:
        it is by position, and positions mean the same rows until the app clears it; a range
        anchor is an index of the old view, so it goes."""
        self._source = source
        self.range_anchor = None
        self._grow(source.capacity)
        self._in_view = self._count_in_view()
        self._reset(self.cursor_row if keep_cursor else 0)

    def reload(self) -> None:
        """The same view after its data changed (a sync): repaint, keep the cursor."""
        self._reset(self.cursor_row)

    def _reset(self, cursor: int) -> None:
        self._count = len(self._source) if self._source is not None else 0
        self._pages.clear()
        self._strips.clear()
        self._update_virtual_size()
        old, new = self.cursor_row, self.validate_cursor_row(cursor)
        if new != old:
            self.cursor_row = new  # the watcher scrolls to it and posts CursorMoved
        else:
            self._cursor_moved()  # maybe another row at the same index

    def _row(self, index: int) -> Row | None:
        """The row at a view index, from the page cache or one fetch of its page."""
        if self._source is None or not 0 <= index < self._count:
            return None
        page, offset = divmod(index, PAGE_SIZE)
        rows = self._pages.get(page)
        if rows is None:
            start = page * PAGE_SIZE
            rows = self._source.fetch(start, min(start + PAGE_SIZE, self._count))
            self._pages[page] = rows
        return rows[offset] if offset < len(rows) else None

    @property
    def current_row(self) -> Row | None:
        return self._row(self.cursor_row)

    # --- selection ----------------------------------------------------------------------------

    @property
    def selected_count(self) -> int:
        return self._selected

    @property
    def selected_in_view(self) -> int:
        """How many selected rows the current view (and filter) holds; the rest are hidden."""
        return self._in_view

    def _count_in_view(self) -> int:
        # Once per view switch or bulk selection change, never per key: C-speed counts.
        if not self._selected or self._source is None:
            return 0
        positions, bits = self._source.positions(), self._bits
        if isinstance(positions, range) and positions.step == 1:
            return bits[positions.start : positions.stop].count(1)
        return sum(map(bits.__getitem__, positions))

    def selected_positions_in_view(self) -> list[int]:
        """Selected positions that the current view holds, in view order."""
        if not self._selected or self._source is None:
            return []
        positions, bits = self._source.positions(), self._bits
        if isinstance(positions, range) and positions.step == 1:
            start, stop = positions.start, positions.stop
            return list(compress(range(start, stop), bits[start:stop]))
        return list(compress(positions, map(bits.__getitem__, positions)))

    def is_selected(self, pos: int) -> bool:
        return 0 <= pos < len(self._bits) and self._bits[pos] == 1

    def selected_positions(self) -> list[int]:
        """Selected `Row.pos` values, ascending (compress runs in C: fast even for 1M)."""
        return list(compress(range(len(self._bits)), self._bits))

    def _grow(self, capacity: int) -> None:
        if capacity > len(self._bits):
            self._bits.extend(bytes(capacity - len(self._bits)))

    def _mark(self, pos: int) -> bool:
        """Select one position; True if it was not selected."""
        if pos < 0:
            return False
        self._grow(pos + 1)
        if self._bits[pos]:
            return False
        self._bits[pos] = 1
        self._selected += 1
        return True

    def _selection_changed(self, whole_screen: bool) -> None:
        # Strips are keyed on the selected flag, so only a repaint is needed, not a cache clear.
        if whole_screen:
            self.refresh()
        self.post_message(self.SelectionChanged(self._selected, grid=self))

    def toggle_selection(self) -> None:
        """Select or unselect the cursor row, then move down one (as file managers do)."""
        row = self.current_row
        if row is None:
            return
        if self.is_selected(row.pos):
            self._bits[row.pos] = 0
            self._selected -= 1
            self._in_view -= 1
        else:
            self._in_view += self._mark(row.pos)
        self._refresh_index(self.cursor_row)
        self._selection_changed(whole_screen=False)
        self.cursor_row += 1

    def extend_selection(self, delta: int) -> None:
        """Shift+arrow: select the cursor row, move, and select the row reached."""
        row = self.current_row
        if row is None:
            return
        changed = self._mark(row.pos)
        self._in_view += changed
        self._refresh_index(self.cursor_row)
        self.cursor_row += delta
        reached = self.current_row
        if reached is not None and self._mark(reached.pos):
            self._in_view += 1
            changed = True
        if changed:
            self._selection_changed(whole_screen=False)

    def select_all_in_view(self) -> None:
        """Select every row of the view; the only call whose cost grows with the view."""
        positions = self._source.positions() if self._source is not None else range(0)
        if isinstance(positions, range) and positions.step == 1 and positions.start >= 0:
            self._grow(positions.stop)
            self._bits[positions.start : positions.stop] = b"\x01" * len(positions)
        else:
            bits = self._bits  # grown to the source's capacity, which bounds every position
            try:
                for pos in positions:  # ~70 ms for a million array items; no list is built
                    bits[pos] = 1
            except IndexError:  # a source that broke its capacity: grow, then finish
                self._grow(max(positions) + 1)
                for pos in positions:
                    self._bits[pos] = 1
        self._selected = self._bits.count(1)
        self._in_view = self._count_in_view()
        self._selection_changed(whole_screen=True)

    def set_selection(self, positions: Iterable[int]) -> None:
        """Select exactly these positions (in any view)."""
        self._bits = bytearray(len(self._bits))
        self._selected = 0
        for pos in positions:
            self._mark(pos)
        self._in_view = self._count_in_view()
        self._selection_changed(whole_screen=True)

    def add_to_selection(self, positions: Iterable[int]) -> None:
        """Select these positions too (a breakdown line's rows), keeping the rest."""
        for pos in positions:
            self._mark(pos)
        self._in_view = self._count_in_view()
        self._selection_changed(whole_screen=True)

    def clear_selection(self) -> None:
        self._bits = bytearray(len(self._bits))
        self._selected = 0
        self._in_view = 0
        self.range_anchor = None
        self._selection_changed(whole_screen=True)

    def selection_mask(self) -> bytes:
        """A copy of the selection (one byte per position), for a worker thread."""
        return bytes(self._bits)

    def set_selection_mask(self, mask: bytes | bytearray) -> None:
        """Select exactly the positions set in `mask` (built off the UI thread)."""
        self._bits = bytearray(mask)
        self._grow(self._source.capacity if self._source is not None else 0)
        self._recount()

    def merge_selection(self, mask: bytes | bytearray, invert: bool = False) -> int:
        """Add the positions of `mask` to the selection (or, `invert`, flip them); returns how
        many more rows are selected. One integer OR / XOR: C speed for a million rows."""
        size = max(len(self._bits), len(mask))
        ours = int.from_bytes(self._bits, "little")
        theirs = int.from_bytes(mask, "little")
        merged = ours ^ theirs if invert else ours | theirs
        before = self._selected
        self._bits = bytearray(merged.to_bytes(size, "little"))
        self._recount()
        return self._selected - before

    def _recount(self) -> None:
        self._selected = self._bits.count(1)
        self._in_view = self._count_in_view()
        self._selection_changed(whole_screen=True)

    # --- a sticky range (`v`): for terminals where shift+arrows never reach the app -----------

    def range_indices(self) -> tuple[int, int] | None:
        """The view indices from the anchor to the cursor (both in), or None without anchor."""
        if self.range_anchor is None or not self._count:
            return None
        low, high = sorted((min(self.range_anchor, self._count - 1), self.cursor_row))
        return low, high

    # --- cursor -------------------------------------------------------------------------------

    def validate_cursor_row(self, value: int) -> int:
        return max(0, min(value, self._count - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._refresh_index(old)
        self._refresh_index(new)
        self._cursor_moved()

    def _cursor_moved(self) -> None:
        self._scroll_to_cursor()
        self.post_message(self.CursorMoved(self.current_row, grid=self))

    def _refresh_index(self, index: int) -> None:
        self.refresh_line(index + 1)  # virtual line 0 is the header

    @property
    def _body_height(self) -> int:
        """Rows on screen below the header (at least one, even before the first layout)."""
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        top, cursor, body = self.scroll_offset.y, self.cursor_row, self._body_height
        if cursor < top:
            self.scroll_to(y=cursor, animate=False, force=True)
        elif cursor >= top + body:
            self.scroll_to(y=cursor - body + 1, animate=False, force=True)

    def action_cursor(self, delta: int) -> None:
        self.cursor_row += delta

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # The wheel or the scrollbar moved the rows: bring the cursor along, so it stays visible.
        if self._count and self.scrollable_content_region.height > 1:
            top = round(new_value)
            inside = min(max(self.cursor_row, top), top + self._body_height - 1)
            if inside != self.cursor_row:
                self.cursor_row = inside

    def action_page(self, direction: int) -> None:
        # Move the cursor a page, then scroll a whole page, so it keeps its line on screen.
        top, page = self.scroll_offset.y, self._body_height * direction
        self.cursor_row += page
        self.scroll_to(y=top + page, animate=False, force=True)

    def action_first(self) -> None:
        self.cursor_row = 0

    def action_last(self) -> None:
        self.cursor_row = self._count - 1

    def action_toggle_selection(self) -> None:
        if self.range_anchor is not None:
            self.post_message(self.RangeChosen(self))
            return
        self.toggle_selection()

    def action_extend(self, delta: int) -> None:
        self.extend_selection(delta)

    def action_activate(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.RowActivated(row, grid=self))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:  # the header
            return
        index = self.scroll_offset.y + offset.y - 1
        if index < self._count:
            self.cursor_row = index
            if event.chain == 2:
                self.action_activate()

    # --- layout and painting ------------------------------------------------------------------

    def watch_show_details(self) -> None:
        self._update_virtual_size()  # re-lays out: only the strip cache is cleared, rows stay
        # A horizontal scrollbar may come and take the last line: keep the cursor above it.
        self.call_after_refresh(self._scroll_to_cursor)

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        self._scroll_to_cursor()

    def notify_style_update(self) -> None:
        # Theme, focus (the cursor colour) or app.tcss changed: repaint with the new styles.
        super().notify_style_update()
        self._styles = None
        self._header = None
        self._strips.clear()

    @property
    def longest_sku(self) -> int:
        return self._longest_sku

    @longest_sku.setter
    def longest_sku(self, cells: int) -> None:
        """The pair's longest SKU (in cells): the SKU column is sized from it."""
        self._longest_sku = cells
        self._update_virtual_size()

    def action_column(self, direction: int) -> None:
        stops = self._layout.stops()
        x = self.scroll_offset.x
        ahead = [s for s in stops if s > x] if direction > 0 else [s for s in stops if s < x]
        if not ahead:
            return
        target = ahead[0] if direction > 0 else ahead[-1]
        self.scroll_to(x=min(target, self.max_scroll_x), animate=False, force=True)

    def _update_virtual_size(self) -> None:
        width = self.scrollable_content_region.width
        wanted = (width, self.show_details, self._longest_sku)
        if wanted != (self._layout.available, self._layout.details, self._layout.sku_width):
            self._layout = layout(width, self.show_details, self._longest_sku)
            self._header = None
            self._strips.clear()
        self.virtual_size = Size(self._layout.width, self._count + 1)
        self.refresh()

    def _style(self, name: str) -> Style:
        if self._styles is None:
            # Row classes in full (their background blended over ours); cell classes partial,
            # foreground only, so they add to whatever background the row has.
            get = self.get_component_rich_style
            styles = {"": self.rich_style}
            styles.update({cls: get(cls) for cls in ROW_CLASSES})
            styles.update({cls: get(cls, partial=True) for cls in CELL_CLASSES})
            self._styles = styles
        return self._styles[name]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._layout.available:  # resized, and Resize has not arrived yet
            self._update_virtual_size()
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            return self._crop(self._header_strip(), scroll_x, width)
        if not self._count:
            if y != 1 + (self._body_height - 1) // 2:
                return Strip.blank(width, self._style(""))
            text = self.empty_text[:width].center(width)
            return Strip([Segment(text, self._style("grid--empty"))], width)
        index = scroll_y + y - 1
        row = self._row(index)
        if row is None:
            return Strip.blank(width, self._style(""))
        return self._crop(self._row_strip(index, row), scroll_x, width)

    def _crop(self, strip: Strip, scroll_x: int, width: int) -> Strip:
        """The visible part of a full-width strip: the mark and SKU columns stay put."""
        pinned = self._layout.pinned
        if not scroll_x or pinned >= width:
            return strip.crop_extend(scroll_x, scroll_x + width, self._style(""))
        moving = strip.crop_extend(pinned + scroll_x, scroll_x + width, self._style(""))
        return Strip.join([strip.crop(0, pinned), moving])

    def _header_strip(self) -> Strip:
        if self._header is None:
            text = header_cells(self._layout.columns)
            self._header = Strip([Segment(text, self._style("grid--header"))], len(text))
        return self._header

    def _row_strip(self, index: int, row: Row) -> Strip:
        cursor, selected = index == self.cursor_row, self.is_selected(row.pos)
        key = (index, cursor, selected)
        strip = self._strips.get(key)
        if strip is None:
            background = self._style(
                "grid--cursor" if cursor else "grid--selected" if selected else ""
            )
            segments = [
                Segment(text, background + self._style(css) if css else background)
                for text, css in row_cells(row, self._layout.columns, cursor, selected)
            ]
            strip = self._strips[key] = Strip(segments, self._layout.width)
        return strip
