"""One verdict per resource: after the rules have run, no action is told to be kept by one finding and demoted,
removed or unmarked by another.

Each rule states its verdicts in `Finding.advice` (resource -> keep, promote, demote, remove, unmark). Where two
findings disagree on one resource, the one that says keep (or promote) yields: it stays in the report, without
that verdict, and its message says which finding asks otherwise and why it wins (a copy to demote, a micro the
account has the volume to stop bidding on). A pure function of the findings: the order and every other word are
kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from auditor.engine import DEMOTE, KEEP, PROMOTE, REMOVE, UNMARK, Finding

KEEPING = frozenset({KEEP, PROMOTE})
DROPPING = frozenset({DEMOTE, REMOVE, UNMARK})
_WORDS = {DEMOTE: "set it to Secondary", REMOVE: "remove it", UNMARK: "unmark it"}


def conflicts(findings: Sequence[Finding]) -> dict[str, tuple[set[int], set[int]]]:
    """Per resource with opposite verdicts: (indexes of the findings that keep it, of those that drop it)."""
    keeps: dict[str, set[int]] = {}
    drops: dict[str, set[int]] = {}
    for i, f in enumerate(findings):
        for resource, verb in f.advice:
            (keeps if verb in KEEPING else drops if verb in DROPPING else {}).setdefault(resource, set()).add(i)
    return {r: (keeps[r], drops[r]) for r in keeps if r in drops and keeps[r] != drops[r]}


def reconcile(findings: Sequence[Finding], names: dict[str, str] | None = None) -> list[Finding]:
    """The findings with every contradiction settled: a keep verdict yields to a demote, remove or unmark verdict
    on the same resource, and its finding says so ("'X': see duplicate-conversion-action, which asks to set it
    to Secondary"). `names` gives readable names of resources (an action's name) for that note."""
    out = list(findings)
    for resource, (keep, drop) in sorted(conflicts(findings).items()):
        winner = findings[min(drop)]
        verb = dict(winner.advice)[resource]
        label = (names or {}).get(resource, resource)
        for i in sorted(keep - drop):
            f = out[i]
            note = (f" [yields for '{label}': {winner.rule} asks to {_WORDS[verb]}; see that finding]")
            out[i] = replace(f, message=f.message + note,
                             advice=tuple((r, v) for r, v in f.advice if r != resource))
    return out
