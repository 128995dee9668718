"""Anchors in an S3 vault are under Object Lock (compliance mode): the agent cannot remove or
shorten them, whatever it can do to the log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airlock.anchors import AnchorWriter, read_anchors, verify_anchors
from airlock.audit import AuditRecord, ChainHead, seal
from airlock.store.memory import MemoryStore
from airlock.vault.stores.s3 import S3Store

KEY = b"k" * 32


def test_anchors_in_s3_are_locked_in_compliance_mode(s3: Any, s3_bucket: str) -> None:
    store = MemoryStore()
    for i in range(3):
        def make(prev: ChainHead | None, i: int = i) -> AuditRecord:
            return seal(prev, "decision", None, {"i": i}, KEY)

        store.append_audit(make)
    objects = S3Store(s3, s3_bucket, "airlock")
    anchor = AnchorWriter(store, lambda: objects, KEY, retention=timedelta(days=30)).tick()
    assert anchor is not None
    head = s3.head_object(Bucket=s3_bucket, Key=f"airlock/{anchor.key}")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    anchors, problems = read_anchors(objects)
    assert problems == [] and verify_anchors(store.audit_records(), anchors, KEY).ok
