"""What the proxy knows about tokens between connections, read again every `REFRESH_SECONDS`.

    verifiers  the live tokens' SCRAM verifiers: who may connect (a token made a moment ago
               connects: a failed proof reads the store again before it is refused)
    revoked    the revoked tokens: the proxy ends their open sessions at the next refresh, and
               until then every statement they send is refused (`Rulings`)

So a revocation stops a session within `REFRESH_SECONDS`, not when its token expires. Reading
the tokens is one small query in a worker thread, twice a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from airlock.errors import AuthError
from airlock.fronts.pgwire.auth import Verifier
from airlock.model import utcnow
from airlock.store import Store
from airlock.tokens import token_census

__all__ = ["REFRESH_SECONDS", "TokenWatch"]

log = logging.getLogger("airlock.pgwire")

REFRESH_SECONDS = 0.5


class TokenWatch:
    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock
        self.verifiers: list[tuple[str, Verifier]] = []
        self.revoked: frozenset[str] = frozenset()
        self.read_at = float("-inf")  # time.monotonic() of the last good read

    def refresh(self) -> None:
        """Read the tokens again (blocking: call it from a worker thread)."""
        census = token_census(self.store, self.clock())
        verifiers: list[tuple[str, Verifier]] = []
        for token_id, text in census.verifiers:
            try:
                verifiers.append((token_id, Verifier.from_text(text)))
            except AuthError:
                log.warning("token %s has a damaged SCRAM verifier; it cannot connect", token_id)
        # two plain assignments: readers on the event loop see the old view or the new one
        self.verifiers, self.revoked = verifiers, census.revoked
        self.read_at = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self.read_at
