"""Where the built-in sandbox keeps its remote state, and making sure it exists.

The sandbox pair always exists (DESIGN.md section 2): the first command that needs it generates
the default catalog; `demo --size N` regenerates at another size and `--reset` starts over.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SIZE = 2000
STATE_FILE = "sandbox.db"


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def ensure_sandbox(data_dir: Path, size: int | None = None, reset: bool = False) -> bool:
    """Generate the sandbox if it is missing, reset, or asked at another size; True if it did."""
    from tui_sync.sandbox import catalog, remote

    path = state_path(data_dir)
    info = remote.info(path) if path.exists() else None
    current = int(str(info["size"])) if info else None
    if not reset and current is not None and (size is None or size == current):
        return False
    data_dir.mkdir(parents=True, exist_ok=True)
    catalog.generate(path, size or current or DEFAULT_SIZE)
    return True
