"""HTTP classification: what an HTTP request (from curl, httpie, the HTTP proxy) does.

    classify_http(request)  ->  Assessment

Total by contract: whatever goes wrong (an oversized body, an unparseable URL, a bug in a
provider) comes back as an `unknown` assessment that says why, never as an exception and never
as an allow. The request is parsed once (providers/request.py) and handed to the first provider
that claims it (providers/__init__.py lists the chain). A request that asks the server to use
another method (X-HTTP-Method-Override, `_method=`) is classified under every method it might
run as, and the worst wins.
"""

from __future__ import annotations

from airlock.classify import MAX_INPUT_BYTES
from airlock.classify.providers import PROVIDERS
from airlock.classify.providers.request import Request, RequestError
from airlock.model import Assessment, HttpRequest

CLASSIFIER = "http"


def classify_http(request: HttpRequest) -> Assessment:
    try:
        return _classify(request)
    except Exception as exc:
        return Assessment.unknown(f"the HTTP classifier failed on this request "
                                  f"({type(exc).__name__}); holding it", classifier=CLASSIFIER)


def _classify(raw: HttpRequest) -> Assessment:
    size = (len(raw.url) + sum(len(k) + len(v) for k, v in raw.headers)
            + len((raw.body or "").encode("utf-8", "surrogatepass")))
    if size > MAX_INPUT_BYTES:
        return Assessment.unknown(f"the request is {size} bytes, above the {MAX_INPUT_BYTES}-byte "
                                  "limit airlock parses", classifier=CLASSIFIER)
    try:
        request = Request(raw)
        variants = [request, *(request.with_method(m) for m in request.method_overrides())]
    except RequestError as exc:
        return Assessment.unknown(f"the request cannot be read: {exc}", classifier=CLASSIFIER)
    assessments = [_dispatch(variant) for variant in variants]
    if len(assessments) == 1:
        return assessments[0]
    return Assessment.of([e for a in assessments for e in a.effects], classifier=CLASSIFIER,
                         complete=all(a.complete for a in assessments),
                         reasons=[f"the request asks the server to run it as "
                                  f"{', '.join(v.method for v in variants[1:])} instead of "
                                  f"{request.method}"])


def _dispatch(request: Request) -> Assessment:
    for provider in PROVIDERS:
        if provider.claims(request):
            try:
                return provider.classify(request)
            except RequestError as exc:
                return Assessment.unknown(f"{request.method} {request.endpoint}: {exc}",
                                          classifier=CLASSIFIER)
    return Assessment.unknown("no provider claimed the request", classifier=CLASSIFIER)
