"""Benchmark: the HTTP/GraphQL classifier over Railway's CLI documents (and a few AWS and
Kubernetes requests), against a baseline measured in the same run: graphql-core parsing the
same documents and nothing else.

    .venv/bin/python bench/bench_graphql.py [--rounds N]

Prints throughput and per-request p50/p99 for each set, and the classifier/baseline ratio.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

from graphql import OperationDefinitionNode, parse

from airlock.classify.http import classify_http
from airlock.model import HttpRequest

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "railway"
ENDPOINT = "https://backboard.railway.app/graphql/v2"
T = TypeVar("T")


def railway_documents() -> list[str]:
    files = sorted((CORPORA / "mutations").glob("*.graphql"))
    files += sorted((CORPORA / "queries").glob("*.graphql"))
    if not files:
        raise SystemExit(f"no Railway documents under {CORPORA}")
    return [f.read_text() for f in files]


def railway_requests(documents: Sequence[str]) -> list[HttpRequest]:
    headers = (("Content-Type", "application/json"),)
    requests = []
    for document in documents:
        # Every variable the document declares, as a plain id-like string: enough for the
        # classifier to walk targets; types do not matter to it.
        names = [d.variable.name.value
                 for op in parse(document).definitions if isinstance(op, OperationDefinitionNode)
                 for d in op.variable_definitions or ()]
        variables = {name: f"{name}-4f2c9a1e" for name in names}
        body = json.dumps({"query": document, "variables": variables})
        requests.append(HttpRequest("POST", ENDPOINT, headers, body))
    return requests


def other_requests() -> list[HttpRequest]:
    form = (("Content-Type", "application/x-www-form-urlencoded"),)
    ddb = (("Content-Type", "application/x-amz-json-1.0"),
           ("X-Amz-Target", "DynamoDB_20120810.BatchWriteItem"))
    batch = {"RequestItems": {"orders": [{"DeleteRequest": {"Key": {"id": {"S": "1"}}}}]}}
    delete_objects = ("<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object>"
                      "</Delete>")
    return [
        HttpRequest("POST", "https://rds.us-east-1.amazonaws.com/", form,
                    urlencode({"Action": "DeleteDBInstance", "DBInstanceIdentifier": "prod"})),
        HttpRequest("GET", "https://ec2.us-east-1.amazonaws.com/?"
                    + urlencode({"Action": "DescribeVolumes", "VolumeId.1": "vol-1"})),
        HttpRequest("POST", "https://dynamodb.us-east-1.amazonaws.com/", ddb, json.dumps(batch)),
        HttpRequest("DELETE", "https://data.s3.us-east-1.amazonaws.com/logs/2025/01/01.gz"),
        HttpRequest("POST", "https://data.s3.us-east-1.amazonaws.com/?delete", (),
                    delete_objects),
        HttpRequest("DELETE", "https://10.0.0.1:6443/api/v1/namespaces/prod"),
        HttpRequest("GET", "https://10.0.0.1:6443/apis/apps/v1/namespaces/prod/deployments"),
        HttpRequest("DELETE", "https://api.example.com/v1/items/5"),
    ]


def timings(func: Callable[[T], object], items: Sequence[T], rounds: int) -> list[float]:
    """Seconds per call, one sample per item per round (after one warm-up round)."""
    for item in items:
        func(item)
    gc.collect()  # start each set from the same heap, so one set's garbage is not another's
    samples = []
    for _ in range(rounds):
        for item in items:
            started = time.perf_counter()
            func(item)
            samples.append(time.perf_counter() - started)
    return samples


def summary(name: str, samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    rate = len(samples) / sum(samples)
    print(f"{name:<44} {rate:>10,.0f}/s   p50 {p50 * 1e6:>8.1f} µs   p99 {p99 * 1e6:>8.1f} µs")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    documents = railway_documents()
    requests = railway_requests(documents)
    print(f"{len(documents)} Railway documents, {rounds} rounds each\n")
    plain50, plain99 = summary("baseline: graphql-core parse(document)",
                               timings(parse, documents, rounds))
    # The classifier parses without source locations; this baseline does the same work.
    base50, base99 = summary("baseline: parse(document, no_location=True)",
                             timings(lambda d: parse(d, no_location=True), documents, rounds))
    http50, http99 = summary("classify_http, Railway requests",
                             timings(classify_http, requests, rounds))
    print(f"\nratio classify_http / parse:             p50 {http50 / plain50:.2f}x, "
          f"p99 {http99 / plain99:.2f}x")
    print(f"ratio classify_http / parse(no_location): p50 {http50 / base50:.2f}x, "
          f"p99 {http99 / base99:.2f}x")
    others = other_requests()
    print()
    summary(f"classify_http, {len(others)} AWS/Kubernetes/REST requests",
            timings(classify_http, others, rounds))


if __name__ == "__main__":
    main()
