"""Allowed HTTP reads judged once, for a while: the API proxy's verdict cache.

An agent's SDK repeats the same GraphQL query or REST read many times, and judging it again
(parsing the document, labelling every field, placing, scope, policy) costs more than the
forwarding. A `VerdictCache` in a `Judge` keeps the evaluation of such a read and gives it back
for the same read by the same caller — only when nothing that can change between two identical
requests went into it:

- **Key.** The front, the principal, the token and every scope binding the caller, the action's
  context (its resource and environment) and a SHA-256 of the judged request: method,
  canonical URL, the headers the gate judges (credentials and volatile ones such as user
  agents and request ids are already gone, which is the normalisation that makes a client's
  retries identical) and the body. The classifier is a function of exactly that request.
- **What is kept.** An allow, of a complete read assessment, with no error in any step and no
  safety net asked for. Holds and denials are judged every time: approvals, backups and the
  reasons shown to a human stay live.
- **Literal values.** A request whose values name targets (`volume(id: "v-1")`, a namespace in a
  path) has a verdict that depends on where those targets live. Where placement is a live
  lookup (Railway's project map, refreshed every few minutes) such a verdict is not kept;
  where placement comes from the configuration alone (`static_placement`), it is, because the
  exact request is the key.
- **How long.** Never past `max_age`, nor past the moment a scope binding the caller expires
  (the scope check reads the clock). A configuration reload builds new judges and so a new
  cache; `forget_token` drops a revoked token's entries (the proxy also authenticates the token
  on every call, before the gate, so a revoked token never reaches a kept verdict).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from airlock.model import Action, Caller, HttpRequest, Risk, Verdict, canonical_json, sha256_hex

if TYPE_CHECKING:
    from airlock.gate import Evaluation

__all__ = ["VerdictCache", "evaluate_through", "kept_evaluation"]

_Key = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class _Kept:
    evaluation: Evaluation
    until: datetime


class VerdictCache:
    """A bounded LRU of allowed HTTP read evaluations. Safe to share across threads."""

    def __init__(self, *, static_placement: bool = False, size: int = 4096,
                 max_age: timedelta = timedelta(seconds=60)) -> None:
        if size < 1:
            raise ValueError(f"cache size must be at least 1, not {size}")
        self.static_placement = static_placement
        self.size = size
        self.max_age = max_age
        self._items: OrderedDict[_Key, _Kept] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(action: Action, caller: Caller) -> _Key | None:
        """The key of an action by a caller, or None when it is not an HTTP request."""
        payload = action.payload
        if not isinstance(payload, HttpRequest):
            return None
        request = sha256_hex(canonical_json(payload.canonical()))
        return (action.front, action.principal, caller.principal, caller.token_id,
                caller.scopes, canonical_json(action.context.canonical()), request)

    def get(self, key: _Key, now: datetime) -> Evaluation | None:
        with self._lock:
            kept = self._items.get(key)
            if kept is None or now >= kept.until:
                if kept is not None:
                    del self._items[key]
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return kept.evaluation

    def put(self, key: _Key, evaluation: Evaluation, now: datetime) -> bool:
        """Keep `evaluation` if it may be reused (see the module's rules); says whether it was."""
        if not self._keepable(evaluation):
            return False
        until = now + self.max_age
        for scope in evaluation.caller.scopes:
            if scope.expires_at is not None:
                until = min(until, scope.expires_at)
        if now >= until:
            return False
        kept = replace(evaluation, shown={})  # each reuse shares what its records show
        with self._lock:
            self._items[key] = _Kept(kept, until)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return True

    def _keepable(self, ev: Evaluation) -> bool:
        assessment = ev.assessment
        return (ev.decision.verdict is Verdict.ALLOW and not ev.decision.snapshot_required
                and not ev.errors and assessment.complete and assessment.risk is Risk.READ
                and not assessment.inputs
                and (self.static_placement or not assessment.targets))

    def forget_token(self, token_id: str) -> None:
        """Drop every verdict kept for a token (it was revoked)."""
        with self._lock:
            for key in [k for k in self._items if k[3] == token_id]:
                del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def evaluate_through(cache: VerdictCache, action: Action, caller: Caller, now: datetime,
                     judge: Callable[[], Evaluation]) -> Evaluation:
    """`judge()`'s evaluation of `action`, or the one kept for the same request, rebound to this
    action (its id and time) and this caller (equal by the key) and marked as reused."""
    key = cache.key(action, caller)
    if key is None:
        return judge()
    kept = cache.get(key, now)
    if kept is not None:
        return replace(kept, action=action, caller=caller, cached=True)
    evaluation = judge()
    cache.put(key, evaluation, now)
    return evaluation


def kept_evaluation(cache: VerdictCache, action: Action, caller: Caller,
                    now: datetime) -> Evaluation | None:
    """The evaluation kept for the same request, rebound to this action and caller, or None:
    nothing is judged (`Judge.kept`: the API proxy looks there on its event loop)."""
    key = cache.key(action, caller)
    kept = cache.get(key, now) if key is not None else None
    return replace(kept, action=action, caller=caller, cached=True) if kept is not None else None
