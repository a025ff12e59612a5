"""Where the built-in sandbox keeps its remote state, and making sure it exists.

The sandbox pair always exists (DESIGN.md section 2): the first command that needs it generates
the default catalog; `--size N` regenerates at another size and `--reset` starts over. A state
file that exists but cannot be used (locked, truncated, corrupt) is never regenerated silently:
it holds every earlier sync to the sandbox, so `remote.SandboxStateError` says so instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DEFAULT_SIZE = 2000
STATE_FILE = "sandbox.db"

# progress(done, total): SKUs generated so far, out of the catalog's size.
GenerateProgress = Callable[[int, int], None]


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def ensure_sandbox(
    data_dir: Path,
    size: int | None = None,
    reset: bool = False,
    progress: GenerateProgress | None = None,
) -> bool:
    """Generate the sandbox if it is missing, reset, or asked at another size; True if it did.

    Raises `remote.SandboxStateError` for an existing file that cannot be used, unless `reset`."""
    from tui_sync.sandbox import catalog, remote

    path = state_path(data_dir)
    current: int | None = None
    try:
        info = remote.info(path)
    except remote.SandboxStateError:
        if not reset:
            raise
        info = None  # the user asked for a new one: the unusable file is replaced
    if info is not None:
        current = int(str(info["size"]))
        if not reset and (size is None or size == current):
            return False
    data_dir.mkdir(parents=True, exist_ok=True)
    catalog.generate(path, size or current or DEFAULT_SIZE, progress=progress)
    return True
