"""HTTP classification (placeholder until the HTTP/GraphQL classifier lands): unknown."""

from __future__ import annotations

from airlock.model import Assessment, HttpRequest


def classify_http(request: HttpRequest) -> Assessment:
    return Assessment.unknown("HTTP is not classified yet", classifier="http")
