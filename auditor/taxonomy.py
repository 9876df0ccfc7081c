"""Event taxonomy (weak micro, strong micro, macro) and name normalisation, from rules/taxonomy.yaml + profile."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from auditor.model import ConversionAction

Kind = Literal["macro", "strong_micro", "weak_micro", "unknown"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEP = re.compile(r"[^a-z0-9]+")


def name_key(name: str) -> str:
    """Spelling-insensitive key: `Sign_Up`, `signUp`, `sign-up` and `signup` all give `signup`."""
    return _SEP.sub("", _CAMEL.sub("_", name.strip()).lower())


def _keys(names: Any) -> frozenset[str]:
    return frozenset(name_key(str(n)) for n in names or ())


@dataclass(frozen=True)
class Taxonomy:
    automatic: frozenset[str]
    weak_micro: frozenset[str]
    strong_micro: frozenset[str]
    macro: frozenset[str]
    weak_categories: frozenset[str]
    strong_categories: frozenset[str]
    macro_categories: frozenset[str]
    revenue_categories: frozenset[str]
    placeholder_values: frozenset[float]  # constant default values that are placeholders, not values
    synonyms: dict[str, str]  # name key -> canonical name
    recommended: frozenset[str]
    funnel: tuple[str, ...] = ()

    @classmethod
    def build(cls, base: dict[str, Any], profile: dict[str, Any]) -> Taxonomy:
        """The profile's macros and strong micros win over the base lists (sign_up is macro for SaaS)."""
        cats = base.get("ads_categories") or {}
        p_macro, p_strong = _keys(profile.get("macro_events")), _keys(profile.get("strong_micro_events"))
        p_macro_cats = frozenset(profile.get("macro_categories") or ())
        macro = (_keys(base.get("macro_events")) - p_strong) | p_macro
        strong = (_keys(base.get("strong_micro_events")) - p_macro) | p_strong
        weak = _keys(base.get("weak_micro_events")) - macro - strong
        synonyms: dict[str, str] = {}
        for group in base.get("synonyms") or ():
            for n in group:
                synonyms[name_key(str(n))] = str(group[0])
        return cls(
            automatic=_keys(base.get("automatic_events")),
            weak_micro=weak, strong_micro=strong, macro=macro,
            weak_categories=frozenset(cats.get("weak_micro") or ()) - p_macro_cats,
            strong_categories=frozenset(cats.get("strong_micro") or ()) - p_macro_cats,
            macro_categories=frozenset(cats.get("macro") or ()) | p_macro_cats,
            revenue_categories=frozenset(cats.get("revenue") or ()),
            placeholder_values=frozenset(float(v) for v in base.get("placeholder_values") or ()),
            synonyms=synonyms,
            recommended=frozenset(str(n) for n in base.get("recommended_events") or ()),
            funnel=tuple(str(n) for n in profile.get("funnel") or ()),
        )

    def event_kind(self, event_name: str) -> Kind:
        k = name_key(event_name)
        k = name_key(self.synonyms.get(k, k))
        if k in self.macro:
            return "macro"
        if k in self.strong_micro:
            return "strong_micro"
        if k in self.weak_micro or k in self.automatic:
            return "weak_micro"
        return "unknown"

    def category_kind(self, category: str) -> Kind:
        if category in self.macro_categories:
            return "macro"
        if category in self.strong_categories:
            return "strong_micro"
        if category in self.weak_categories:
            return "weak_micro"
        return "unknown"

    def action_kind(self, action: ConversionAction) -> Kind:
        """A GA4 import is classed by its event name when the taxonomy knows it, else by its category."""
        if action.ga4_event_name:
            kind = self.event_kind(action.ga4_event_name)
            if kind != "unknown":
                return kind
        return self.category_kind(action.category)

    def canonical(self, event_name: str) -> str:
        """The group key for split naming: spelling folded, configured synonyms merged."""
        k = name_key(event_name)
        return name_key(self.synonyms[k]) if k in self.synonyms else k
