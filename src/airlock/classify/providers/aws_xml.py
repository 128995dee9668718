"""Reading the small XML bodies of AWS REST-XML calls (S3 DeleteObjects, Route 53 changes).

The standard library's parser is used, behind a refusal of any document type declaration:
entity definitions (billion laughs, external entities) can only come in through one, and no
AWS request body has one. Namespaces are ignored when matching element names.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator


class XmlError(ValueError):
    """A body that is not XML airlock will read."""


def parse_xml(text: str) -> ET.Element:
    if not text.strip():
        raise XmlError("the body is empty")
    if "<!" in text:
        raise XmlError("the body holds a declaration (<!DOCTYPE, <!ENTITY, ...), which no AWS "
                       "request needs")
    try:
        return ET.fromstring(text)  # noqa: S314 — declarations refused above
    except ET.ParseError as exc:
        raise XmlError(f"the body is not well-formed XML: {exc}") from None


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def children(node: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in node if local(child.tag) == name)


def descendants(node: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in node.iter() if local(child.tag) == name)


def text_of(node: ET.Element, name: str) -> str | None:
    for child in children(node, name):
        return (child.text or "").strip()
    return None
