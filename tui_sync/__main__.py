from tui_sync.cli import main

raise SystemExit(main())
