"""Providers: who knows what an HTTP request does. The chain, in the order it is asked:

    Railway          railway.py          backboard.railway.app/.com: GraphQL, 230 labelled mutations
    AWS              aws.py (+ aws_*)    *.amazonaws.com or AWS-signed: query, JSON, REST protocols
    Kubernetes       kubernetes.py       /api/v1/..., /apis/<group>/<version>/... on any host
    GraphQL          graphql_generic.py  other GraphQL endpoints: mutations judged by name
    REST             rest.py             everything else: judged by HTTP method

The first provider that claims a request classifies it; the last claims everything. Shared
parts: request.py (the parsed request), graphql_endpoint.py (GraphQL over HTTP), labels.py (data
files and how a label becomes effects). Knowledge lives in `airlock/data/providers/*.toml`.
"""

from __future__ import annotations

from airlock.classify.providers.aws import Aws
from airlock.classify.providers.base import Provider
from airlock.classify.providers.graphql_generic import GenericGraphQL
from airlock.classify.providers.kubernetes import Kubernetes
from airlock.classify.providers.railway import Railway
from airlock.classify.providers.rest import GenericRest

PROVIDERS: tuple[Provider, ...] = (Railway(), Aws(), Kubernetes(), GenericGraphQL(), GenericRest())

__all__ = ["PROVIDERS", "Provider"]
