"""The audit log: does its chain verify, and is its head kept where the agent cannot rewrite it?

The chain is checked as `airlock audit verify` checks it (hashes, sequence, HMACs), by airlock's
own user. Anchors — the head written outside airlock's state, where an agent that could rewrite
the log and its key cannot reach — are issue 9's work; until this airlock writes them, the doctor
says the log is unanchored as a note, with what to do meanwhile.
"""

from __future__ import annotations

from airlock.doctor.context import Doctor
from airlock.doctor.report import Finding, Severity


def check_audit(doc: Doctor) -> list[Finding]:
    state = doc.state
    if state is None:
        return [Finding("audit", Severity.INFO, "could not check the audit log from this account",
                        (doc.state_problem,), "run `sudo airlock doctor`")]
    audit = state["audit"]
    findings: list[Finding] = []
    if not audit["ok"]:
        findings.append(Finding(
            "audit.chain", Severity.CRITICAL,
            f"the audit log does not verify: record {audit['bad_seq']} {audit['problem']}",
            (f"{audit['count']} records before it verify", f"last good head {audit['head']}"),
            "find who changed it (`airlock audit export`), restore the state from a backup, and "
            "compare with a head hash kept elsewhere"))
    elif audit["count"]:
        findings.append(Finding(
            "audit.anchor", Severity.INFO,
            "the audit log's head is not anchored outside airlock's state by this airlock: "
            "records cut from its end would not show",
            (f"{audit['count']} records verify; head {audit['head']}",),
            "keep the head hash `airlock audit verify` prints somewhere the agent cannot write"))
    return findings
