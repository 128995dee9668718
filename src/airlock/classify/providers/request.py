"""A parsed view of an `HttpRequest`: URL parts, query parameters and body decoders.

Providers look at requests through this class only, so that every one of them sees the same
answer to "what is the host", "what are the path segments", "what does the body say". Anything
that cannot be parsed raises `RequestError`, which the HTTP classifier turns into `unknown`.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from airlock.model import HttpRequest


class RequestError(ValueError):
    """The request cannot be read well enough to classify it (bad URL, bad body)."""


# Methods that a server may be asked to use instead of the one on the wire. Frameworks (Rails,
# Laravel, Google APIs, many gateways) honour them, so a POST carrying one may really be a DELETE.
METHOD_OVERRIDE_HEADERS = ("x-http-method-override", "x-http-method", "x-method-override")
METHOD_OVERRIDE_PARAMS = ("_method",)


class Request:
    """One HTTP request, parsed once. Attributes are computed on first use and then cached."""

    def __init__(self, raw: HttpRequest) -> None:
        self.raw = raw
        self.method = raw.method.strip().upper()
        if not self.method.isascii() or not self.method.isalpha():
            raise RequestError(f"the method {raw.method!r} is not an HTTP method")
        url = raw.url.strip()
        if "://" not in url:
            # curl and httpie accept "host/path"; the scheme they assume is http.
            url = "http://" + url
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise RequestError(f"the URL {raw.url!r} cannot be parsed: {exc}") from None
        if not parts.hostname:
            raise RequestError(f"the URL {raw.url!r} names no host")
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname.lower().rstrip(".")
        self.port = port
        self.raw_path = parts.path or "/"
        self.raw_query = parts.query
        self.body = raw.body
        self.segments  # noqa: B018 — refuse dot segments now, with a clear reason

    # -- URL -----------------------------------------------------------------------------------

    @cached_property
    def segments(self) -> tuple[str, ...]:
        """Path segments, percent-decoded one by one (so an encoded slash stays inside its
        segment). Dot segments are refused: servers resolve them differently, and a path that
        means one thing to airlock and another to the server is how guards get walked around."""
        decoded = tuple(unquote(s) for s in self.raw_path.split("/") if s)
        if any(s in (".", "..") for s in decoded):
            raise RequestError(f"the path {self.raw_path!r} has dot segments")
        return decoded

    @cached_property
    def path(self) -> str:
        return "/" + "/".join(self.segments)

    @cached_property
    def authority(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @cached_property
    def endpoint(self) -> str:
        """scheme://host[:port]/path, without the query: the canonical URL target."""
        return f"{self.scheme}://{self.authority}{self.path}"

    @cached_property
    def query(self) -> tuple[tuple[str, str], ...]:
        return tuple(parse_qsl(self.raw_query, keep_blank_values=True))

    def param(self, name: str) -> str | None:
        """The value of query parameter `name`; a name given twice with different values is
        ambiguous (servers pick the first or the last), so it is refused."""
        return _single(self.query, name, "query parameter")

    def has_param(self, name: str) -> bool:
        return any(k == name for k, _ in self.query)

    # -- headers and body ----------------------------------------------------------------------

    def header(self, name: str) -> str | None:
        return self.raw.header(name)

    @cached_property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ('' when absent)."""
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    @cached_property
    def has_body(self) -> bool:
        return bool(self.body and self.body.strip())

    def json_body(self) -> Any:
        """The body as JSON. A key given twice in one object is refused: parsers disagree on
        which one wins, and airlock must read what the server reads."""
        if not self.body:
            raise RequestError("the body is empty")
        try:
            return json.loads(self.body, object_pairs_hook=_unique_keys)
        except (ValueError, RecursionError) as exc:
            raise RequestError(f"the body is not valid JSON: {exc}") from None

    def body_looks_like_json(self) -> bool:
        if "json" in self.content_type:
            return True
        text = (self.body or "").lstrip()
        return text.startswith(("{", "["))

    @cached_property
    def form(self) -> tuple[tuple[str, str], ...]:
        """Form fields of an application/x-www-form-urlencoded body (empty otherwise)."""
        if self.content_type != "application/x-www-form-urlencoded" or not self.body:
            return ()
        return tuple(parse_qsl(self.body, keep_blank_values=True))

    def form_field(self, name: str) -> str | None:
        return _single(self.form, name, "form field")

    # -- method overrides ----------------------------------------------------------------------

    def method_overrides(self) -> tuple[str, ...]:
        """Methods other than the wire method that the server might honour instead."""
        found: list[str] = []
        for name in METHOD_OVERRIDE_HEADERS:
            value = self.header(name)
            if value:
                found.append(value.strip().upper())
        for name in METHOD_OVERRIDE_PARAMS:
            for key, value in (*self.query, *self.form):
                if key == name and value:
                    found.append(value.strip().upper())
        return tuple(m for m in dict.fromkeys(found) if m != self.method)

    def with_method(self, method: str) -> Request:
        """The same request as if it had been sent with another method."""
        raw = HttpRequest(method, self.raw.url, self.raw.headers, self.raw.body)
        return Request(raw)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def _single(pairs: tuple[tuple[str, str], ...], name: str, what: str) -> str | None:
    values = [v for k, v in pairs if k == name]
    if not values:
        return None
    if len(set(values)) > 1:
        raise RequestError(f"the {what} {name!r} is given {len(values)} times with different values")
    return values[0]
