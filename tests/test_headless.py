"""The core is headless: nothing outside tui_sync/tui imports textual (STYLE.md, harlequin)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tui_sync"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_no_module_outside_tui_imports_textual() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "tui" not in path.relative_to(PACKAGE).parts[:1] and {"textual", "rich"} & _imports(path)
    ]
    assert offenders == []


def test_headless_commands_do_not_load_textual() -> None:
    # Importing the CLI and running a headless command must not pull textual in at all.
    code = (
        "import sys, tui_sync.cli, tui_sync.sync, tui_sync.refresh, tui_sync.views;"
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
