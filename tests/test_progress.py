"""The progress line of a refresh or sync: done of total, the pace since it began, and the time
left at that pace (issue: "progress shows rate and time left")."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_app, settle
from tui_sync.tui.app import rate_text
from tui_sync.tui.messages import Progress


def test_rate_text_says_the_pace_and_the_time_left() -> None:
    assert rate_text(0, 5.0, 3000, 0) == ""  # nothing moved yet
    assert rate_text(50, 0.5, 3000, 50) == ""  # too soon to say
    assert rate_text(850, 10.0, 3000, 1200) == " · 85/s · 21 s left"
    assert rate_text(3, 2.0, 3000, 3) == " · 1.5/s · 33 min left"
    assert rate_text(100, 10.0, None, 100) == " · 10/s"  # no total: no time left


async def test_the_status_line_shows_the_pace_of_a_sync(data_dir: Path) -> None:
    app = make_app(data_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        now = [100.0]
        app.monotonic = lambda: now[0]
        status = app.query_one("#status-label")
        app.post_message(Progress("Sync", 0, 3000))
        await pilot.pause()
        assert str(status.render()).strip() == "Sync 0/3,000"
        now[0] += 10
        app.post_message(Progress("Sync", 850, 3000))
        await pilot.pause()
        assert str(status.render()).strip() == "Sync 850/3,000 · 85/s · 25 s left"
        app.post_message(Progress("Refresh", 10, None))  # another work: measured afresh
        await pilot.pause()
        assert str(status.render()).strip() == "Refresh"
