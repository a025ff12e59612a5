"""The Selected view: exactly the rows that a sync of "all selected" would act on.

Views of `tui_sync.views` are WHERE clauses over the cache; the selection lives in the grid (a
bit per row position), so this view is a list of positions taken when the view is opened.
"""

from __future__ import annotations

from tui_sync.views import View

SELECTED_VIEW = View("selected", "Selected", "Sel", "0")
