"""What a provider is: something that recognises its requests and knows what they do."""

from __future__ import annotations

from typing import Protocol

from airlock.classify.providers.request import Request
from airlock.model import Assessment


class Provider(Protocol):
    """One upstream API family (Railway, AWS, Kubernetes, ...) or a generic fallback.

    `claims` must be cheap. Either method may raise on a bug or a broken data file, which the
    HTTP classifier turns into `unknown`; a request a provider does not understand should come
    back as an assessment with an unknown effect and the reason spelled out."""

    name: str

    def claims(self, request: Request) -> bool: ...

    def classify(self, request: Request) -> Assessment: ...
