"""Regenerate the README's screenshots from the real app on a seeded 2,000-SKU sandbox.

    make screenshots
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime
from pathlib import Path

from tui_sync.config import SANDBOX_PAIR
from tui_sync.sandbox.state import ensure_sandbox
from tui_sync.tui.app import TuiSyncApp

HERE = Path(__file__).resolve().parent
SHOTS = {
    "main.svg": (),
    "details.svg": ("d", "2"),
    "details-80x24.svg": ("d", "2"),
    "sync-plan.svg": ("4", "space", "space", "space", "space", "s", "p"),
    "breakdown.svg": ("2", "F"),
    "map-picker.svg": ("7", "m"),
}


async def shoot(data_dir: Path, name: str, keys: tuple[str, ...]) -> None:
    app = TuiSyncApp(data_dir, SANDBOX_PAIR, clock=lambda: datetime(2026, 11, 23, 9, 30))
    size = (80, 24) if "80x24" in name else (100, 30)
    async with app.run_test(size=size) as pilot:
        # Wait for the first refresh to reach the screen, not only for its worker to end.
        while app.busy is not None or not app.last_refresh.startswith("refreshed"):
            await app.workers.wait_for_complete()
            await pilot.pause(0.05)
        for key in keys:
            await pilot.press(key)
        # A breakdown or a picker is computed in a worker: wait for it to reach the screen.
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot(name, str(HERE))
    print(HERE / name)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        ensure_sandbox(data_dir, size=2000)
        for name, keys in SHOTS.items():
            asyncio.run(shoot(data_dir, name, keys))


if __name__ == "__main__":
    main()
