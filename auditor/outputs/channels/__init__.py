"""Delivery channels of agency runs: one module per channel, each a `Channel`, registered in auditor.outputs.

A channel is built from its part of the config before anything is audited (`Channel.configure`: a missing
password is a configuration error then, not a failure after an hour of auditing), and handed the finished run
once every report is on disk (`Channel.deliver`). It never raises for a delivery problem: it returns how many
messages went out, how many did not, and the first reason, and the run exits 4 when any did not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from auditor.conventions import EXIT_OK, exit_code

if TYPE_CHECKING:
    from auditor.agency.summary import AgencyRow, SummaryDocument
    from auditor.config import UserConfig
    from auditor.outputs.options import Branding
    from auditor.result import ClientResult, Header

WHEN = ("always", "change", "failure")


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """What the command line says about delivery (each channel reads what concerns it)."""

    email_on: str | None = None  # --email-on: overrides email.when
    no_email: bool = False  # --no-email
    deliver: bool = True  # False for a shard: the merge delivers; only the command line is checked


@dataclass(slots=True)
class FinishedRun:
    """A run whose reports and summary are all on disk, as a channel sees it."""

    document: SummaryDocument
    out_dir: Path
    owners: dict[str, list[str]]  # address -> names of the clients whose reports it gets
    load_client: Callable[[AgencyRow], ClientResult]  # a client's full result (from its JSON report)
    fail_on: str = "low"
    min_score: int | None = None
    top_fix: str | None = None  # the summary's "fix first" line, when one was found
    branding: Branding | None = None  # the config's report: section (the agency's name in the e-mails)

    @property
    def header(self) -> Header:
        return self.document.header

    @property
    def rows(self) -> list[AgencyRow]:
        return self.document.clients

    def wanted(self, row: AgencyRow, when: str) -> bool:
        """Whether a client qualifies for a channel's `when`: always; change (score, status or findings changed
        since the previous run; a first audit counts); failure (the client alone would make the run exit
        non-zero)."""
        if when == "change":
            return row.changed
        if when == "failure":
            return exit_code([row], self.fail_on, self.min_score) != EXIT_OK
        return True


@dataclass(slots=True)
class Delivered:
    """What a channel did: messages sent and not sent, the first reason, and a line for the log."""

    sent: int = 0
    failed: int = 0
    first_error: str | None = None
    said: str = ""  # "sent 1 summary and 4 owner report(s)", "nothing to send (--email-on change)"

    def fail(self, reason: str, count: int = 1) -> None:
        self.failed += count
        self.first_error = self.first_error or reason


class Channel:
    name: ClassVar[str] = ""

    @property
    def label(self) -> str:
        """How log lines name this channel: never a secret (a webhook is named by its variable, not its URL)."""
        return self.name

    @classmethod
    def configure(cls, cfg: UserConfig, cfg_path: Path | None, options: ChannelOptions) -> list[Channel]:
        """The channels of this kind the config sets up (none, one, or several). Raises ConfigError."""
        raise NotImplementedError

    def deliver(self, run: FinishedRun) -> Delivered:
        raise NotImplementedError


def configured_channels(cfg: UserConfig, cfg_path: Path | None, options: ChannelOptions) -> list[Channel]:
    """Every channel the config sets up, through the registry (auditor.outputs.CHANNEL_CLASSES)."""
    from auditor.outputs import CHANNEL_CLASSES, channel_class

    out: list[Channel] = []
    for name in CHANNEL_CLASSES:
        out += channel_class(name).configure(cfg, cfg_path, options)
    return out if options.deliver else []
