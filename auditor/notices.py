"""Warnings of a whole run, told once per file and field with a count.

An unknown enum value in one action of one client is worth a line; the same value in every action of three
hundred clients is worth one line too, not a thousand in a cron log. Each client's result keeps its own warnings
in full (the JSON); this is only what is printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_INDEX = re.compile(r"\[\d+\]")
_CLIENT_PATH = re.compile(r"^.*?(?=(?:ga4|ads)/[A-Za-z0-9_]+\.json\b)")  # the client's own folder, if any


@dataclass
class _Seen:
    first: str  # the first occurrence, as it was written
    client: str
    times: int = 0
    clients: set[str] = field(default_factory=set)


class WarningTally:
    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}

    def add(self, client: str, warning: str) -> None:
        key = _INDEX.sub("[*]", _CLIENT_PATH.sub("", warning, count=1))
        seen = self._seen.setdefault(key, _Seen(warning, client))
        seen.times += 1
        seen.clients.add(client)

    def lines(self) -> list[str]:
        """One line per file, field and message: the first occurrence, and how often it came back."""
        out = []
        for key, s in self._seen.items():
            if s.times == 1:
                out.append(s.first)
            else:
                where = f"{len(s.clients)} clients" if len(s.clients) > 1 else s.client
                out.append(f"{key} ({s.times} times in {where})")
        return out
