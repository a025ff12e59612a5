"""What the QuickBooks connector and its sandbox server share: the JSON codec that keeps money
exact both ways, the Fault shape, and quoting for the query language.

QBO answers money and quantities as JSON numbers (`"UnitPrice": 19.99`, `"QtyOnHand": 10.5`,
Finance.xsd types them `xs:decimal`): they are parsed with `parse_float=Decimal` and written
back as number literals from `Decimal`, never through a float.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def loads(data: bytes | str) -> Any:
    """JSON with every non-integer number as an exact Decimal (NaN/Infinity refused)."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not a number")

    return json.loads(data, parse_float=Decimal, parse_constant=refuse)


def dumps(value: object) -> str:
    """JSON text where a Decimal is a plain number literal (19.99, not "19.99", never 1E+1)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        return f"{value:f}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("a float reached the QuickBooks codec: money must be a Decimal")
    return json.dumps(value)


def fault(
    code: str, message: str, detail: str, element: str | None = None, kind: str = "ValidationFault"
) -> dict[str, object]:
    """The Fault envelope of IntuitRestServiceDef.xsd (Fault, Error{Message, Detail, code,
    element}) as the JSON API sends it [S30b]."""
    error: dict[str, object] = {"Message": message, "Detail": detail, "code": code}
    if element:
        error["element"] = element
    return {"Fault": {"Error": [error], "type": kind}, "time": "2026-01-01T00:00:00.000-08:00"}


def fault_errors(body: object) -> list[dict[str, str]]:
    """The Error entries of a Fault body (empty when the body is not one)."""
    if not isinstance(body, dict):
        return []
    raw = body.get("Fault", body.get("fault"))
    if not isinstance(raw, dict):
        return []
    errors = raw.get("Error", raw.get("error"))
    if not isinstance(errors, list):
        return []
    found = []
    for error in errors:
        if isinstance(error, dict):
            found.append({str(k): str(v) for k, v in error.items() if v is not None})
    return found


def fault_codes(body: object) -> set[str]:
    return {e.get("code", "") for e in fault_errors(body)}


def describe_fault(body: object) -> str:
    """One line from a Fault: its first error's message and detail."""
    errors = fault_errors(body)
    if not errors:
        return ""
    first = errors[0]
    parts = [first.get("Message", ""), first.get("Detail", "")]
    said = "; ".join(p for p in dict.fromkeys(parts) if p)
    code = first.get("code")
    return f"{said} (code {code})" if code else said


def quote(value: str) -> str:
    """A string literal of the query language: single quotes, a quote inside escaped with a
    backslash, as Intuit's data-query page shows for names such as 'Dave\\'s' [S35]."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
