"""Retry and deadline policy for every live call (neither Google library retries by default).

Imports google-api-core, so only the live path imports this module.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry

# Transient: retried with exponential backoff and jitter. Everything else (PERMISSION_DENIED, UNAUTHENTICATED,
# INVALID_ARGUMENT, NOT_FOUND, ...) fails at once.
TRANSIENT = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.TooManyRequests, gexc.InternalServerError)

ENV_ATTEMPTS = "AUDITOR_RETRY_ATTEMPTS"
ENV_INITIAL = "AUDITOR_RETRY_INITIAL"
ENV_TIMEOUT = "AUDITOR_CALL_TIMEOUT"


@dataclass
class Attempts:
    """Failed attempts of one logical call, shared by every Retry built for it (a re-run stream, say)."""

    failed: int = 0


@dataclass(frozen=True)
class CallPolicy:
    attempts: int = 4  # first try + 3 retries
    initial: float = 1.0  # seconds: upper bound of the first (jittered) backoff
    maximum: float = 20.0
    multiplier: float = 2.0
    timeout: float = 60.0  # deadline of one call, seconds (each attempt gets what is left of it)

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.initial < 0 or self.timeout <= 0:
            from auditor.errors import ConfigError

            raise ConfigError(f"retry policy: need {ENV_ATTEMPTS} >= 1, {ENV_INITIAL} >= 0 and {ENV_TIMEOUT} > 0")

    @classmethod
    def from_env(cls) -> CallPolicy:
        """AUDITOR_RETRY_ATTEMPTS / AUDITOR_RETRY_INITIAL / AUDITOR_CALL_TIMEOUT tune it (tests shorten it)."""
        p = cls()
        try:
            return cls(
                attempts=int(os.environ.get(ENV_ATTEMPTS) or p.attempts),
                initial=float(os.environ.get(ENV_INITIAL) or p.initial),
                maximum=p.maximum, multiplier=p.multiplier,
                timeout=float(os.environ.get(ENV_TIMEOUT) or p.timeout),
            )
        except ValueError:
            from auditor.errors import ConfigError

            raise ConfigError(f"{ENV_ATTEMPTS} must be an integer, {ENV_INITIAL} and {ENV_TIMEOUT} numbers of "
                              "seconds") from None

    def budget(self) -> float:
        """Upper bound of the wall time of one call, retries included: every backoff plus every deadline."""
        sleeps = sum(min(self.maximum, self.initial * self.multiplier**i) for i in range(self.attempts - 1))
        return sleeps + self.timeout * self.attempts

    def retry(self, retryable: tuple[type[BaseException], ...] = TRANSIENT,
              on_failure: Callable[[Exception, bool], None] | None = None,
              attempts: Attempts | None = None) -> gretry.Retry:
        """A google-api-core Retry for ONE call: at most `attempts` tries, jittered exponential backoff.

        api-core bounds a Retry by time only, so a fast-failing call would be retried until the whole time
        budget is spent; here the predicate also counts failures. `on_failure(exc, will_retry)` sees every
        failed attempt (quota is charged for it). Pass one `Attempts` to share the count across Retries.
        A Retry carries its count: build a new one per call.
        """
        count = attempts if attempts is not None else Attempts()
        limit = self.attempts

        def predicate(exc: Exception) -> bool:
            count.failed += 1
            again = isinstance(exc, retryable) and count.failed < limit
            if on_failure is not None:
                on_failure(exc, again)
            return again

        # api-core's backoff is already "full jitter": each sleep is uniform in [0, initial * multiplier**n]
        return gretry.Retry(predicate=predicate, initial=self.initial, maximum=self.maximum,
                            multiplier=self.multiplier, timeout=self.budget())

    def backoff(self, failed: int) -> float:
        """Jittered sleep before retry number `failed` (1-based) of a retry done outside api-core."""
        return random.uniform(0.0, min(self.maximum, self.initial * self.multiplier ** max(failed - 1, 0)))
