"""The built-in sandbox pair: a seeded catalog (`catalog`) laid out as a BigCommerce store and a
QuickBooks Online company (`seed`, persisted by `state`), served on 127.0.0.1 (`pair`,
`bigcommerce_api`, `quickbooks_api`) and reached by the real connectors over HTTP, so `demo`,
the tests and the benchmarks need no account and no network beyond loopback.
"""
