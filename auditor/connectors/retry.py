"""Retry and deadline policy for every live call (neither Google library retries by default).

Imports google-api-core, so only the live path imports this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry

# Transient: retried with exponential backoff and jitter. Everything else (PERMISSION_DENIED, UNAUTHENTICATED,
# INVALID_ARGUMENT, NOT_FOUND, ...) fails at once.
TRANSIENT = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.TooManyRequests, gexc.InternalServerError)


@dataclass(frozen=True)
class CallPolicy:
    attempts: int = 4  # first try + 3 retries
    initial: float = 1.0  # seconds before the first retry
    maximum: float = 20.0
    multiplier: float = 2.0
    timeout: float = 60.0  # deadline of one attempt, seconds

    @classmethod
    def from_env(cls) -> CallPolicy:
        """AUDITOR_RETRY_INITIAL / AUDITOR_RETRY_ATTEMPTS / AUDITOR_CALL_TIMEOUT tune it (tests shorten it)."""
        p = cls()
        return cls(
            attempts=int(os.environ.get("AUDITOR_RETRY_ATTEMPTS", p.attempts)),
            initial=float(os.environ.get("AUDITOR_RETRY_INITIAL", p.initial)),
            maximum=p.maximum, multiplier=p.multiplier,
            timeout=float(os.environ.get("AUDITOR_CALL_TIMEOUT", p.timeout)),
        )

    def retry(self) -> gretry.Retry:
        """A google-api-core Retry: jittered exponential backoff on transient errors, bounded by attempts."""
        # api-core bounds a Retry by total time, not attempts: the sum of the backoff sleeps plus one
        # deadline per attempt is the budget for `attempts` tries.
        sleeps = sum(min(self.maximum, self.initial * self.multiplier**i) for i in range(self.attempts - 1))
        return gretry.Retry(
            predicate=gretry.if_exception_type(*TRANSIENT),
            initial=self.initial, maximum=self.maximum, multiplier=self.multiplier,
            timeout=sleeps + self.timeout * self.attempts,
        )
