"""BigCommerce's official OpenAPI files, loaded once per process, to validate what we send.

The sandbox BigCommerce server checks every request it receives against the vendor's own spec
(`../shared/specs/bigcommerce/*.yml`, beside the repository, never copied into it), so a
connector that drifts from the documented API fails its tests instead of working only against
our server. CONNECTORS.md section 7 lists the loading gotchas handled here:
- `x-nullable: true` (a Swagger 2 extension, in the variants spec) is rewritten to OpenAPI 3's
  `nullable: true`, or real `"price": null` bodies would be refused;
- the servers are templated (`https://api.bigcommerce.com/stores/{store_hash}/v3`), so requests
  are validated as if sent to the vendor's origin, whatever port the sandbox listens on;
- `product_Put_Collection` requires `id` yet marks it readOnly: a required request property is
  taken as writable;
- prose-only limits (50 variants a batch, no negative stock) are not in the schemas: the server
  enforces them itself.
openapi-core is a test dependency: without it, `validator()` is None and nothing is checked.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ORIGIN = "https://api.bigcommerce.com"
# <repo>/../shared/specs: CI checks shared/ out beside the clone.
SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs" / "bigcommerce"

# Which file documents which path (after /stores/{hash}/vN).
_FILES: tuple[tuple[str, str], ...] = (
    ("/v3/catalog/variants", "product-variants_catalog.v3.yml"),
    ("/v3/catalog/products", "products_catalog.v3.yml"),
    ("/v3/catalog/brands", "brands_catalog.v3.yml"),
    ("/v3/inventory/locations", "inventory.v3.yml"),
    ("/v3/inventory", "inventory.v3.yml"),
    ("/v2/orders", "orders.v2.oas2.yml"),
)


def _fixed(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _fixed(v) for k, v in node.items() if k != "x-nullable"}
        if node.get("x-nullable") is True:
            out["nullable"] = True
        # `product_Put_Collection` requires `id` and marks it readOnly in the same schema,
        # which refuses every documented batch update ("id required"): a required property
        # of a request schema is writable.
        props = out.get("properties")
        if isinstance(props, dict) and isinstance(out.get("required"), list):
            for name in out["required"]:
                prop = props.get(name)
                if isinstance(prop, dict) and prop.get("readOnly") is True:
                    props[name] = {k: v for k, v in prop.items() if k != "readOnly"}
        return out
    if isinstance(node, list):
        return [_fixed(v) for v in node]
    return node


@functools.cache
def _spec(name: str) -> Any:
    import yaml  # type: ignore[import-untyped]
    from openapi_core import OpenAPI

    raw = yaml.safe_load((SPECS / name).read_text(encoding="utf-8"))
    return OpenAPI.from_dict(_fixed(raw))


def spec_for(path: str) -> str | None:
    for prefix, name in _FILES:
        if path.startswith(prefix):
            return name
    return None


class Validator:
    """Validates one request; returns what is wrong with it (empty: it follows the spec)."""

    def errors(
        self,
        store_hash: str,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> list[str]:
        from openapi_core.testing import MockRequest
        from werkzeug.datastructures import ImmutableMultiDict

        name = spec_for(path)
        if name is None:
            return [f"{method} {path}: no BigCommerce spec documents this path"]
        request = MockRequest(
            ORIGIN,
            method,
            f"/stores/{store_hash}{path}",
            headers=dict(headers),
            data=body or None,
            content_type=headers.get("content-type", "application/json").split(";")[0],
        )
        request.parameters.query = ImmutableMultiDict(list(query))
        result = _spec(name).unmarshal_request(request)
        found: list[str] = []
        for error in result.errors:
            detail = "; ".join(str(e).splitlines()[0] for e in _causes(error))
            found.append(f"{method} {path}: {type(error).__name__}: {error} {detail}".strip())
        return found


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    for attr in ("schema_errors", "errors"):
        more = getattr(error, attr, None)
        if isinstance(more, list | tuple):
            seen.extend(e for e in more if isinstance(e, BaseException))
    cause = error.__cause__
    while cause is not None and len(seen) < 5:
        seen.append(cause)
        seen.extend(
            e for e in getattr(cause, "schema_errors", None) or () if isinstance(e, BaseException)
        )
        cause = cause.__cause__
    return seen


def validator() -> Validator | None:
    try:
        import openapi_core  # noqa: F401
    except ImportError:
        return None
    return Validator()


def preload() -> None:
    """Load every file now (a test session does it once, not inside a timed request)."""
    for _, name in _FILES:
        _spec(name)
