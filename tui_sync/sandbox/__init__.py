"""The built-in sandbox: a seeded catalog (`catalog`) kept as "remote" state in SQLite (`remote`).

`tui_sync.connectors.sandbox.SandboxConnector` reads and writes that state as a store or a back
office would, so `demo`, the tests and the benchmarks need no account and no network.
"""
