"""The discrepancy grid on fake sources at 80x24, asserting what the user sees."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TypeVar

import pytest
from rich.color import Color, ColorSystem
from rich.style import Style
from textual.app import App, ComposeResult
from textual.message import Message

from tui_sync.model import CODES, Cell, Item, Row, Status
from tui_sync.tui.columns import (
    CELL_CLASSES,
    NAME_MIN,
    SKU_CAP,
    fit,
    fit_middle,
    layout,
    status_text,
)
from tui_sync.tui.grid import PAGE_SIZE, DiscrepancyGrid, GridSource

M = TypeVar("M", bound=Message)
STATUSES = list(Status)  # row pos % 7 picks the status, so every status shows on screen


def make_row(pos: int) -> Row:
    status = STATUSES[pos % len(STATUSES)]
    cells: dict[str, Cell] = {code: "S" for code in CODES}
    if pos % 3 == 0:
        cells["QP"] = "N"
    if pos % 5 == 0:
        cells["P"] = "N"
    cells["C"] = "-"
    sku = f"SKU-{pos:07d}"
    store = Item(f"s{pos}", sku, f"Store {pos}", quantity=pos % 50, price=Decimal("9.90"))
    backoffice = (
        None
        if status is Status.STORE_ONLY
        else Item(f"b{pos}", sku, f"BO {pos}", quantity=pos % 40, price=Decimal("10.50"))
    )
    return Row(
        pos=pos,
        key=sku,
        sku=sku,
        name=f"Product number {pos} with a rather long descriptive name",
        status=status,
        cells=cells,
        store=store,
        backoffice=backoffice,
    )


class ListSource:
    """An in-memory view: some rows of a reconcile of `capacity` rows."""

    def __init__(self, rows: list[Row], capacity: int | None = None) -> None:
        self.rows = rows
        self._capacity = capacity if capacity is not None else len(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def fetch(self, start: int, stop: int) -> list[Row]:
        return self.rows[start:stop]

    def positions(self) -> Sequence[int]:
        return [r.pos for r in self.rows]

    @property
    def capacity(self) -> int:
        return self._capacity


class LazySource:
    """A million rows, built only when fetched; records every fetch the grid makes."""

    def __init__(self, size: int = 1_000_000) -> None:
        self.size = size
        self.calls: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return self.size

    def fetch(self, start: int, stop: int) -> list[Row]:
        self.calls.append((start, stop))
        return [make_row(i) for i in range(start, min(stop, self.size))]

    def positions(self) -> Sequence[int]:
        return range(self.size)

    @property
    def capacity(self) -> int:
        return self.size

    @property
    def fetched(self) -> int:
        return sum(stop - start for start, stop in self.calls)


class GridApp(App[None]):
    def __init__(self, source: GridSource) -> None:
        super().__init__()
        self.source = source
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield DiscrepancyGrid(id="grid")

    def on_mount(self) -> None:
        self.grid.set_source(self.source)
        self.grid.focus()

    @property
    def grid(self) -> DiscrepancyGrid:
        return self.query_one(DiscrepancyGrid)

    def on_discrepancy_grid_cursor_moved(self, message: DiscrepancyGrid.CursorMoved) -> None:
        self.messages.append(message)

    def on_discrepancy_grid_selection_changed(
        self, message: DiscrepancyGrid.SelectionChanged
    ) -> None:
        self.messages.append(message)

    def on_discrepancy_grid_row_activated(self, message: DiscrepancyGrid.RowActivated) -> None:
        self.messages.append(message)

    def received(self, kind: type[M]) -> list[M]:
        return [m for m in self.messages if isinstance(m, kind)]


def lines(grid: DiscrepancyGrid) -> list[str]:
    """The text of every line the user sees in the grid (without its scrollbar)."""
    return [grid.render_line(y).text for y in range(grid.scrollable_content_region.height)]


def small(n: int = 60) -> GridApp:
    return GridApp(ListSource([make_row(i) for i in range(n)]))


async def test_header_and_first_rows_fit_80_columns() -> None:
    app = small()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        grid = app.grid
        shown = lines(grid)
        for title in ("SKU", "Name", "St qty", "BO qty", "St price", "BO price", "Status"):
            assert title in shown[0]
        assert "QP" not in shown[0]
        assert grid.virtual_size.width <= grid.scrollable_content_region.width  # no sideways
        assert shown[1].startswith("▌  SKU-0000000 ")  # the cursor bar, legible without colour
        assert " Product… " in shown[1]  # the name takes the spare width, truncated
        assert "9.90" in shown[1] and "10.50" in shown[1] and "Base" in shown[1]
        assert "—" in shown[2] and "Store only" in shown[2]  # no back-office item
        # The status says what differs, in a seller's words.
        assert shown[6].endswith("Price differs   ") and shown[7].endswith("In sync         ")
        assert grid.current_row is not None and grid.current_row.pos == 0
        assert len(shown) == 24 and all(len(line) == 79 for line in shown)  # + scrollbar


async def test_code_letters_only_with_details_all_on_screen_at_80_columns() -> None:
    app = small()
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        grid.show_details = True
        await pilot.pause()
        # Every code column on screen without scrolling: the name gave way.
        assert grid.virtual_size.width <= grid.scrollable_content_region.width
        shown = lines(grid)
        assert "Name" not in shown[0] and "St qty" in shown[0]
        assert shown[0].split()[-9:] == list(CODES)
        assert shown[1].split()[-9:] == ["S", "S", "S", "S", "S", "N", "S", "N", "-"]
        assert shown[2].split()[-9:] == ["S", "S", "S", "S", "S", "S", "S", "S", "-"]
        assert "SKU-0000001" in shown[2]  # the mark and SKU columns do not scroll away
        grid.show_details = False
        await pilot.pause()
        assert "QP" not in lines(grid)[0] and " S " not in lines(grid)[2]


async def test_cursor_and_selection_keep_the_cell_colours() -> None:
    app = small()
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        grid.show_details = True
        await pilot.press("space", "up")  # row 0: selected and under the cursor
        code_n = grid.get_component_rich_style("grid--code-n", partial=True)
        cursor = grid.get_component_rich_style("grid--cursor")

        def n_cell(y: int) -> Style:
            strip = grid.render_line(y)
            style = next(s.style for s in reversed(list(strip)) if s.text.strip() == "N")
            assert style is not None
            return style

        grid.scroll_to(x=grid.virtual_size.width, animate=False)
        await pilot.pause()
        style = n_cell(1)
        assert style.color == code_n.color and style.bold
        assert style.bgcolor == cursor.bgcolor
        selected = grid.get_component_rich_style("grid--selected")
        await pilot.press("down")
        assert n_cell(1).color == code_n.color and n_cell(1).bgcolor == selected.bgcolor


async def test_cursor_keys_page_down_end_and_home() -> None:
    app = small(200)
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        body = grid.scrollable_content_region.height - 1
        await pilot.press("down", "down")
        assert grid.cursor_row == 2
        moved = app.received(DiscrepancyGrid.CursorMoved)
        assert moved[-1].row is not None and moved[-1].row.pos == 2
        assert moved[-1].control is grid
        await pilot.press("pagedown")  # a whole page: same screen line, next rows
        assert grid.cursor_row == 2 + body and grid.scroll_offset.y == body
        assert lines(grid)[3].startswith(f"▌  SKU-{2 + body:07d}")
        await pilot.press("pageup")
        assert grid.cursor_row == 2 and grid.scroll_offset.y == 0
        await pilot.press("end")
        assert grid.cursor_row == 199 and lines(grid)[-1].startswith("▌  SKU-0000199")
        assert "SKU" in lines(grid)[0]  # the header does not scroll away
        await pilot.press("down", "pagedown")
        assert grid.cursor_row == 199
        await pilot.press("home", "up")
        assert grid.cursor_row == 0 and "SKU-0000000" in lines(grid)[1]
        await pilot.press("ctrl+end")
        assert grid.cursor_row == 199
        await pilot.press("ctrl+home")
        assert grid.cursor_row == 0


async def test_scrolling_away_brings_the_cursor_along() -> None:
    app = small(200)
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        grid.scroll_to(y=100, animate=False)
        await pilot.pause()
        assert grid.cursor_row == 100 and lines(grid)[1].startswith("▌  SKU-0000100")


async def test_click_moves_the_cursor_and_double_click_activates() -> None:
    app = small()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.click(DiscrepancyGrid, offset=(20, 5))
        assert app.grid.cursor_row == 4
        await pilot.click(DiscrepancyGrid, offset=(20, 0))  # the header
        assert app.grid.cursor_row == 4
        await pilot.double_click(DiscrepancyGrid, offset=(20, 3))
        assert [m.row.pos for m in app.received(DiscrepancyGrid.RowActivated)] == [2]


async def test_space_toggles_and_moves_down() -> None:
    app = small()
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        await pilot.press("space")
        assert grid.selected_count == 1 and grid.cursor_row == 1
        shown = lines(grid)
        assert shown[1].startswith(" ✓ SKU-0000000") and shown[2].startswith("▌  SKU-0000001")
        await pilot.press("up", "space")
        assert grid.selected_count == 0 and grid.cursor_row == 1
        changed = app.received(DiscrepancyGrid.SelectionChanged)
        assert [m.count for m in changed] == [1, 0]


async def test_shift_arrows_extend_the_selection() -> None:
    app = small()
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        await pilot.press("shift+down", "shift+down", "shift+down")
        assert grid.selected_positions() == [0, 1, 2, 3] and grid.cursor_row == 3
        await pilot.press("down", "down", "shift+up")
        assert grid.selected_positions() == [0, 1, 2, 3, 4, 5] and grid.cursor_row == 4
        assert [m.count for m in app.received(DiscrepancyGrid.SelectionChanged)] == [2, 3, 4, 6]


async def test_select_all_in_view_and_clear() -> None:
    app = small()
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        grid.select_all_in_view()
        await pilot.pause()
        assert grid.selected_count == 60
        assert all(line[1] == "✓" for line in lines(grid)[1:])
        grid.clear_selection()
        await pilot.pause()
        assert grid.selected_count == 0 and grid.selected_positions() == []
        assert all(line[1] == " " for line in lines(grid)[1:])
        changed = app.received(DiscrepancyGrid.SelectionChanged)
        assert [m.count for m in changed] == [60, 0]


async def test_selection_is_by_position_and_survives_view_switches() -> None:
    rows = [make_row(i) for i in range(60)]
    app = GridApp(ListSource(rows))
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        await pilot.press("space", "down", "space")  # positions 0 and 2
        evens = ListSource([r for r in rows if r.pos % 2 == 0], capacity=60)
        grid.set_source(evens)
        await pilot.pause()
        assert grid.cursor_row == 0 and grid.selected_positions() == [0, 2]
        shown = lines(grid)
        assert shown[1].startswith("▌✓ SKU-0000000") and shown[2].startswith(" ✓ SKU-0000002")
        assert shown[3].startswith("   SKU-0000004")
        grid.select_all_in_view()  # positions that are not a range
        assert grid.selected_count == 30
        await pilot.press("down", "down")
        grid.set_source(ListSource(rows), keep_cursor=True)
        assert grid.cursor_row == 2 and grid.selected_count == 30
        grid.set_source(ListSource(rows[:5], capacity=60), keep_cursor=True)
        assert grid.cursor_row == 2 and grid.selected_count == 30  # clamped, still selected
        grid.set_selection([7, 9])
        await pilot.pause()
        assert grid.selected_positions() == [7, 9]
        assert app.received(DiscrepancyGrid.SelectionChanged)[-1].count == 2


async def test_enter_activates_the_cursor_row() -> None:
    app = small()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")
        activated = app.received(DiscrepancyGrid.RowActivated)
        assert [m.row.pos for m in activated] == [1]


async def test_empty_view_says_so() -> None:
    app = GridApp(ListSource([]))
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        await pilot.press("down", "space", "shift+down", "enter", "end")
        shown = lines(grid)
        assert "SKU" in shown[0]
        assert [line.strip() for line in shown if line.strip()][1:] == ["No rows in this view"]
        assert grid.current_row is None and grid.selected_count == 0
        assert app.received(DiscrepancyGrid.CursorMoved)[-1].row is None
        assert not app.received(DiscrepancyGrid.RowActivated)


async def test_reload_repaints_and_keeps_the_cursor() -> None:
    rows = [make_row(i) for i in range(60)]
    source = ListSource(rows)
    app = GridApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        await pilot.press("down", "down")
        source.rows = [*rows[:2], replace(rows[2], sku="RENAMED"), *rows[3:]]
        grid.reload()
        await pilot.pause()
        assert grid.cursor_row == 2 and "RENAMED" in lines(grid)[3]
        moved = app.received(DiscrepancyGrid.CursorMoved)[-1].row
        assert moved is not None and moved.sku == "RENAMED"


async def test_a_million_rows_cost_a_page_or_two_per_action() -> None:
    source = LazySource()
    app = GridApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        await pilot.pause()
        assert "SKU-0000000" in lines(grid)[1]
        assert source.fetched <= PAGE_SIZE
        actions: list[tuple[str, ...]] = [
            ("down",) * 5,
            ("pagedown",),
            ("end",),
            ("up",),
            ("pageup",),
            ("home",),
            ("space",),
            ("shift+down",),
        ]
        for keys in actions:
            before = len(source.calls)
            started = time.perf_counter()
            await pilot.press(*keys)
            assert time.perf_counter() - started < 1.0, keys
            assert all(stop - start <= PAGE_SIZE for start, stop in source.calls)
            assert len(source.calls) - before <= 2, keys
        before = len(source.calls)
        grid.show_details = True
        await pilot.pause()
        assert len(source.calls) == before  # the details toggle repaints cached rows
        await pilot.press("end")
        assert "SKU-0999999" in lines(grid)[-1]
        assert source.fetched <= 6 * PAGE_SIZE
        grid.select_all_in_view()
        assert grid.selected_count == 1_000_000
        assert len(grid.selected_positions()) == 1_000_000
        grid.clear_selection()
        assert grid.selected_count == 0


def test_fit_truncates_and_pads_by_cells() -> None:
    assert fit("abcdef", 4) == "abc…"
    assert fit("7", 4, "right") == "   7"
    assert fit("S", 2, "center") == "S "
    assert fit("日本語の名前", 6) == "日本… "  # wide characters count two cells
    assert fit("two\nlines", 9) == "two␊lines"  # never breaks the grid's line


def test_layout_fits_80_columns_with_details() -> None:
    plain = layout(79, details=False)
    assert plain.width == 79
    name = next(c for c in plain.columns if c.key == "name")
    assert name.width >= NAME_MIN
    details = layout(79, details=True, longest_sku=18)
    keys = [c.key for c in details.columns]
    assert details.width <= 79 and "name" not in keys  # the name goes first
    assert all(f"code:{code}" in keys for code in CODES)
    assert next(c for c in details.columns if c.key == "sku").width == 18
    assert layout(40, details=True).width > 40  # too narrow even without values: it scrolls
    wide = layout(160, details=False)
    assert wide.width == 160 and "Store price" in [c.title for c in wide.columns]


def _luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = color.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: Color, b: Color) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


TEXT_CLASSES = [c for c in CELL_CLASSES if c not in ("grid--missing", "grid--code-none")]


async def test_cursor_row_contrast_and_16_colours_in_the_default_themes() -> None:
    for theme in ("textual-dark", "textual-light"):
        app = small()
        async with app.run_test(size=(80, 24)) as pilot:
            app.theme = theme
            await pilot.pause()
            grid = app.grid
            base = grid.rich_style
            cursor = grid.get_component_rich_style("grid--cursor")
            assert cursor.bgcolor is not None and base.color is not None
            assert contrast(base.color, cursor.bgcolor) >= 4.5, theme
            for cls in TEXT_CLASSES:
                color = grid.get_component_rich_style(cls, partial=True).color or base.color
                assert contrast(color, cursor.bgcolor) >= 4.5, (theme, cls)
            # In 16 colours (TERM=xterm) S and N are two colours, and the cursor row stays.
            s, n = (grid.get_component_rich_style(c, partial=True) for c in CODE_CLASSES_SN)
            assert s.color is not None and n.color is not None
            sixteen = ColorSystem.STANDARD
            assert s.color.downgrade(sixteen).number != n.color.downgrade(sixteen).number
            assert base.bgcolor is not None
            assert cursor.bgcolor.downgrade(sixteen) != base.bgcolor.downgrade(sixteen), theme
            assert n.bold and not n.dim


CODE_CLASSES_SN = ("grid--code-s", "grid--code-n")


async def test_without_colour_the_cursor_row_and_n_cells_are_reversed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = small()
    async with app.run_test(size=(80, 24)) as pilot:
        app.grid.show_details = True
        await pilot.pause()
        assert app.no_color
        row = list(app.grid.render_line(1))
        assert all(seg.style is not None and seg.style.reverse for seg in row if seg.text.strip())
        # pos 5: P is N, a difference a sync closes: bold and reversed, never dim.
        n_cells = [seg for seg in app.grid.render_line(6) if seg.text.strip() == "N"]
        assert n_cells and all(seg.style and seg.style.bold for seg in n_cells)
        assert all(seg.style and seg.style.reverse and not seg.style.dim for seg in n_cells)


async def test_left_and_right_move_a_whole_column() -> None:
    app = small()
    async with app.run_test(size=(30, 24)) as pilot:
        grid = app.grid
        grid.show_details = True
        await pilot.pause()
        top = grid.max_scroll_x
        stops = [x for x in grid._layout.stops() if 0 < x < top]
        assert top > 0 and len(stops) >= 1
        for x in [*stops, top]:
            await pilot.press("right")
            await pilot.pause()
            assert grid.scroll_offset.x == x  # the start of the next column, not x + 1
        for x in [*reversed(stops), 0]:
            await pilot.press("left")
            await pilot.pause()
            assert grid.scroll_offset.x == x


async def test_sku_column_fits_the_longest_sku_and_shortens_in_the_middle() -> None:
    rows = [
        replace(make_row(0), sku="SOCK-42164-BLK-XXL"),
        replace(make_row(1), sku="SOCK-42164-BLK-XL"),
        replace(make_row(2), sku="X" * 30 + "-TAIL"),
    ]
    app = GridApp(ListSource(rows))
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.grid
        grid.longest_sku = 18
        await pilot.pause()
        shown = lines(grid)
        assert "SOCK-42164-BLK-XXL " in shown[1] and "SOCK-42164-BLK-XL " in shown[2]
        grid.longest_sku = 35  # over the cap: shortened in the middle, both ends read
        grid.show_details = True
        await pilot.pause()
        shown = lines(grid)
        sku_width = next(c.width for c in grid._layout.columns if c.key == "sku")
        assert sku_width == SKU_CAP
        assert "XXXXXXXXXXX…XXXXXXX-TAIL " in shown[3]


def test_fit_middle_keeps_both_ends() -> None:
    assert fit_middle("SOCK-42164-BLK-XXL", 12) == "SOCK-…LK-XXL"
    assert fit_middle("SOCK-42164-BLK-XL", 12) == "SOCK-…BLK-XL"
    assert fit_middle("SHORT", 8) == "SHORT   "
    assert (
        fit_middle("日本語の名前日本語", 9) == "日本…本語 "
        or len(fit_middle("日本語の名前日本語", 9)) <= 9
    )


def test_status_words_say_what_differs() -> None:
    row = make_row(5)  # out of sync
    cells: dict[str, Cell] = dict.fromkeys(CODES, "S")
    assert status_text(replace(row, cells={**cells, "C": "N"})) == "Cost differs"
    assert status_text(replace(row, cells={**cells, "Q": "N", "P": "N"})) == "Stock+price"
    assert status_text(replace(make_row(6), cells={**cells, "N": "N"})) == "In sync"
