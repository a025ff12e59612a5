"""Validate a JSON Item against Intuit's official XSDs (`../shared/specs/quickbooks`).

Intuit publishes no JSON Schema; the JSON API uses the XSD's element names, so a JSON object
is checked by walking the XSD type it stands for [S30]: every key must be an element or an
attribute of that type, a value must have the JSON type its simple type implies (a decimal is
a number, not a string; a boolean is true/false), and the object is then rebuilt as an XML
element, in the schema's order, that xmlschema validates against the global `Item` element
(facets, enumerations such as ItemTypeEnum, lexical forms). The schema loads once per process
(about a second). xmlschema is a test dependency: the demo never validates.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

NS = "http://schema.intuit.com/finance/v3"
# The repository sits beside ../shared (CI and the worktrees): never a copy, never absolute.
SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs" / "quickbooks"
_NUMERIC = {"decimal", "double", "float"}


@functools.cache
def schema() -> Any:
    import xmlschema

    # IntuitRestServiceDef.xsd includes Finance.xsd and declares the global `Item` element.
    return xmlschema.XMLSchema(str(SPECS / "IntuitRestServiceDef.xsd"))


def validate_item(item: object) -> list[str]:
    """Every problem of a JSON Item as Finance.xsd defines it; [] when valid."""
    if not isinstance(item, dict):
        return ["Item: expected a JSON object"]
    errors: list[str] = []
    xsd = schema()
    element = _to_xml(item, xsd.types["Item"], f"{{{NS}}}Item", "Item", errors)
    if not errors:
        for error in xsd.elements["Item"].iter_errors(element):
            errors.append(f"Item: {' '.join(str(error.reason).split())}")
    return errors


def _primitive(simple: Any) -> str:
    base = getattr(simple, "primitive_type", None)
    name = getattr(base, "local_name", None) or getattr(simple, "local_name", "") or ""
    return str(name)


def _lexical(value: object, simple: Any, where: str, errors: list[str]) -> str | None:
    """The XML text of a JSON scalar, after checking its JSON type against the simple type."""
    kind = _primitive(simple)
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{where}: expected true or false, got {value!r}")
            return None
        return "true" if value else "false"
    if kind in _NUMERIC:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            errors.append(f"{where}: expected a number, got {value!r}")
            return None
        return f"{value:f}" if isinstance(value, Decimal) else str(value)
    if not isinstance(value, str):
        errors.append(f"{where}: expected a string, got {value!r}")
        return None
    return value


def _to_xml(
    obj: dict[str, Any], xsd_type: Any, tag: str, where: str, errors: list[str]
) -> ElementTree.Element:
    element = ElementTree.Element(tag)
    attributes = {str(k): v for k, v in xsd_type.attributes.items() if k}
    children: dict[str, Any] = {}
    if xsd_type.has_complex_content():
        children = {e.local_name: e for e in xsd_type.content.iter_elements()}
    simple_content = xsd_type.has_simple_content()
    for key, value in obj.items():
        path = f"{where}.{key}"
        if key in attributes:
            text = _lexical(value, attributes[key].type, path, errors)
            if text is not None:
                element.set(key, text)
        elif simple_content and key == "value":
            text = _lexical(value, xsd_type.content, path, errors)
            element.text = text
        elif key not in children:
            errors.append(f"{path}: no such element in Finance.xsd")
    for name, decl in children.items():  # the schema's order: a sequence is ordered in XML
        if name not in obj:
            continue
        values = obj[name]
        many = decl.max_occurs is None or decl.max_occurs > 1
        if many and not isinstance(values, list):
            errors.append(f"{where}.{name}: expected a list")
            continue
        if not many and isinstance(values, list):
            errors.append(f"{where}.{name}: expected one value, got a list")
            continue
        for value in values if many else [values]:
            path = f"{where}.{name}"
            if decl.type.is_simple():
                child = ElementTree.SubElement(element, f"{{{NS}}}{name}")
                child.text = _lexical(value, decl.type, path, errors)
            elif isinstance(value, dict):
                element.append(_to_xml(value, decl.type, f"{{{NS}}}{name}", path, errors))
            else:
                errors.append(f"{path}: expected an object, got {value!r}")
    return element
