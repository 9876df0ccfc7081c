"""What names say: the event taxonomy (rules/taxonomy.yaml + profile + the user's `taxonomy:`) and name tokens.

A name is only a prior. `auditor.hierarchy` measures a micro's strength on the account's own data and falls
back on what this module says only where the data cannot tell; the user's config always wins over both.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from auditor import enums
from auditor.model import ConversionAction

Strength = Literal["very_high", "high", "medium", "low", "unknown"]
# Where a name verdict comes from, most authoritative first.
Source = Literal["config", "profile", "taxonomy", "category", "tokens", "none"]

STRENGTHS: tuple[Strength, ...] = ("very_high", "high", "medium", "low")  # best first
PROXY_STRENGTHS = frozenset({"very_high", "high", "medium"})  # strong enough to stand in for the macro

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEP = re.compile(r"[^a-z0-9]+")
_WORDS = re.compile(r"[a-z]+|[0-9]+")
_STEP_WORD = re.compile(r"(step|stage)\d+")


@functools.lru_cache(maxsize=8192)
def name_key(name: str) -> str:
    """Spelling-insensitive key: `Sign_Up`, `signUp`, `sign-up` and `signup` all give `signup`.

    Cached: every rule and the hierarchy ask about the same few hundred names of a client."""
    return _SEP.sub("", _CAMEL.sub("_", name.strip()).lower())


@functools.lru_cache(maxsize=8192)
def name_words(name: str) -> tuple[str, ...]:
    """The words of a name: `quoteFormStep2` -> (quote, form, step, 2)."""
    return tuple(_WORDS.findall(_CAMEL.sub("_", name.strip()).lower()))


def _keys(names: Any) -> frozenset[str]:
    return frozenset(name_key(str(n)) for n in names or ())


def _names(value: Any) -> list[str]:
    """The names of a list, or of a mapping class -> names."""
    if isinstance(value, Mapping):
        return [str(n) for names in value.values() for n in names or ()]
    return [str(n) for n in value or ()]


def _by_class(value: Any, default: Strength = "medium") -> dict[str, Strength]:
    """A list of names (all `default`) or a mapping class -> names, as name key -> class."""
    if isinstance(value, Mapping):
        out: dict[str, Strength] = {}
        for cls in reversed(STRENGTHS):  # the better class wins when a name is listed twice
            for n in value.get(cls) or ():
                out[name_key(str(n))] = cls
        return out
    return {k: default for k in _keys(value)}


def better(a: Strength, b: Strength) -> Strength:
    """The stronger of two known classes."""
    return a if STRENGTHS.index(a) <= STRENGTHS.index(b) else b


def raise_class(s: Strength) -> Strength:
    i = STRENGTHS.index(s)
    return STRENGTHS[max(0, i - 1)] if s != "very_high" else s


@dataclass(frozen=True)
class NameVerdict:
    """What a name (or an Ads category) says: macro, micro of some typical strength, or nothing."""

    kind: Literal["macro", "micro", "unknown"]
    strength: Strength = "unknown"  # typical class of a micro
    source: Source = "none"
    detail: str = ""  # for the evidence: "taxonomy lists add_to_cart as high", "words: pricing, qualified"
    returning: bool = False  # counts people who already converted (log in, app open): never a conversion

    @property
    def weak(self) -> bool:
        return self.kind == "micro" and self.strength == "low"

    @property
    def positive(self) -> bool:
        """A micro the name expects to predict the outcome."""
        return self.kind == "micro" and self.strength in PROXY_STRENGTHS


UNKNOWN_NAME = NameVerdict("unknown")


@dataclass(frozen=True)
class Thresholds:
    """Rates (macro users / micro users) at which each class begins."""

    very_high: float = 0.5
    high: float = 0.2
    medium: float = 0.05

    @classmethod
    def checked(cls, values: Mapping[str, Any]) -> Thresholds:
        t = cls(**{k: float(v) for k, v in values.items()})
        if not 0 < t.medium < t.high < t.very_high <= 1:
            raise ValueError(f"strength thresholds must rise from medium to very_high within (0, 1], got "
                             f"medium {t.medium}, high {t.high}, very_high {t.very_high}")
        return t

    def classify(self, rate: float) -> Strength:
        if rate >= self.very_high:
            return "very_high"
        if rate >= self.high:
            return "high"
        if rate >= self.medium:
            return "medium"
        return "low"

    def as_dict(self) -> dict[str, float]:
        return {"very_high": self.very_high, "high": self.high, "medium": self.medium}


@dataclass(frozen=True)
class Tokens:
    """Words of custom names: intent words by class, progress words, weak words."""

    intent: Mapping[str, Strength] = field(default_factory=dict)
    progress: frozenset[str] = frozenset()
    weak: frozenset[str] = frozenset()
    never: frozenset[str] = frozenset()  # low whatever else the name says

    def verdict(self, name: str) -> NameVerdict:
        words = name_words(name)
        never = [w for w in words if w in self.never]
        if never:
            return NameVerdict("micro", "low", "tokens", f"words {', '.join(never)}")
        intent = [(w, self.intent[w]) for w in words if w in self.intent]
        progress = [w for w in words if w in self.progress]
        pairs = zip(words, words[1:], strict=False)
        progress += [f"{w} {n}" for w, n in pairs if w in ("step", "stage") and n.isdigit()]
        progress += [w for w in words if _STEP_WORD.fullmatch(w)]
        weak = [w for w in words if w in self.weak]
        if intent:
            cls = intent[0][1]
            for _, c in intent[1:]:
                cls = better(cls, c)
            if progress:
                cls = raise_class(cls)
            used = [w for w, _ in intent] + progress
            return NameVerdict("micro", cls, "tokens", f"words {', '.join(used)}")
        if progress and not weak:
            return NameVerdict("micro", "high", "tokens", f"words {', '.join(progress)}")
        if weak:
            return NameVerdict("micro", "low", "tokens", f"words {', '.join(weak)}")
        return UNKNOWN_NAME


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: a cache key of per-name verdicts
class Taxonomy:
    automatic: frozenset[str]
    weak_micro: frozenset[str]
    strong_micro: Mapping[str, Strength]  # name key -> typical class (taxonomy file and profile)
    macro: frozenset[str]
    weak_categories: frozenset[str]
    strong_categories: frozenset[str]
    macro_categories: frozenset[str]
    revenue_categories: frozenset[str]
    placeholder_values: frozenset[float]  # constant default values that are placeholders, not values
    synonyms: dict[str, str]  # name key -> canonical name
    recommended: frozenset[str]
    funnel: tuple[str, ...] = ()
    side_steps: tuple[str, ...] = ()  # optional steps of `funnel` (select_item): shown beside the ladder
    thresholds: Thresholds = field(default_factory=Thresholds)
    tokens: Tokens = field(default_factory=Tokens)
    category_strength: Mapping[str, Strength] = field(default_factory=dict)
    # The user's config (`taxonomy:`): wins over every list and over the data.
    config_macro: frozenset[str] = frozenset()
    config_strong: frozenset[str] = frozenset()
    config_weak: frozenset[str] = frozenset()
    profile_macro: frozenset[str] = frozenset()
    profile_strong: frozenset[str] = frozenset()
    # Returning-user actions: listed names (keys), words or word pairs of custom names, and the share of the
    # busiest event's users from which an event counts returning users whatever its name.
    returning: frozenset[str] = frozenset()
    returning_words: frozenset[tuple[str, ...]] = frozenset()
    returning_share: float = 0.8
    returning_min_users: int = 200
    # The profile's earlier outcomes (an app's first_open): the macro of a campaign of their own (installs) and a
    # step toward the paying outcome, so no weak micro whatever their rate to it.
    earlier_outcomes: frozenset[str] = frozenset()

    @classmethod
    def build(cls, base: dict[str, Any], profile: dict[str, Any], user: Any = None) -> Taxonomy:
        """The profile's macros and strong micros win over the base lists (sign_up is macro for SaaS); `user`
        (the config's `taxonomy:` additions) wins over both."""
        cats = base.get("ads_categories") or {}
        p_macro, p_strong = _keys(profile.get("macro_events")), _by_class(profile.get("strong_micro_events"))
        p_macro_cats = frozenset(profile.get("macro_categories") or ())
        base_strong = _by_class(base.get("strong_micro_events"))
        strong = {k: c for k, c in base_strong.items() if k not in p_macro}
        strong.update({k: base_strong.get(k, c) for k, c in p_strong.items()})
        macro = (_keys(base.get("macro_events")) - set(p_strong)) | p_macro
        weak = _keys(base.get("weak_micro_events")) - macro - set(strong)
        synonyms: dict[str, str] = {}
        for group in [*(base.get("synonyms") or ()), *(getattr(user, "synonyms", None) or ())]:
            for n in group:
                synonyms[name_key(str(n))] = str(group[0])
        toks = base.get("name_tokens") or {}
        intent: dict[str, Strength] = {}
        for c in reversed(STRENGTHS[:3]):
            intent.update({str(w).lower(): c for w in toks.get(c) or ()})
        th = {**(base.get("strength_thresholds") or {}), **(getattr(user, "thresholds", None) or {})}
        placeholders = getattr(user, "placeholder_values", None)
        if placeholders is None:
            placeholders = base.get("placeholder_values") or ()
        return cls(
            automatic=_keys(base.get("automatic_events")),
            weak_micro=weak, strong_micro=strong, macro=macro,
            weak_categories=frozenset(cats.get("weak_micro") or ()) - p_macro_cats,
            strong_categories=frozenset(cats.get("strong_micro") or ()) - p_macro_cats,
            macro_categories=frozenset(cats.get("macro") or ()) | p_macro_cats,
            revenue_categories=frozenset(cats.get("revenue") or ()),
            placeholder_values=frozenset(float(v) for v in placeholders),
            synonyms=synonyms,
            recommended=frozenset(str(n) for n in base.get("recommended_events") or ()),
            funnel=tuple(str(n) for n in profile.get("funnel") or ()),
            side_steps=tuple(str(n) for n in profile.get("side_steps") or ()),
            thresholds=Thresholds.checked(th),
            tokens=Tokens(intent=intent, progress=frozenset(str(w) for w in toks.get("progress") or ()),
                          weak=frozenset(str(w) for w in toks.get("weak") or ()),
                          # a word the profile's own strong micros use is no veto for it (newsletter, for a
                          # publisher selling subscriptions)
                          never=frozenset(str(w) for w in toks.get("never") or ())
                          - {w for n in _names(profile.get("strong_micro_events")) for w in name_words(n)}),
            category_strength={str(k): v for k, v in (cats.get("strength") or {}).items()},
            config_macro=_keys(getattr(user, "macro_events", None)),
            config_strong=_keys(getattr(user, "strong_micro_events", None)),
            config_weak=_keys(getattr(user, "weak_micro_events", None)),
            profile_macro=p_macro, profile_strong=frozenset(p_strong),
            returning=_keys(base.get("returning_user_events")),
            returning_words=frozenset(tuple(str(w).lower().split()) for w in base.get("returning_user_words") or ()),
            returning_share=float(base.get("returning_user_share", 0.8)),
            returning_min_users=int(base.get("returning_user_min_users", 200)),
            earlier_outcomes=_keys(profile.get("earlier_outcomes")),
        )

    # -- names ------------------------------------------------------------------------------------------------

    def canonical(self, event_name: str) -> str:
        """The key a name is known by: spelling folded, configured synonyms merged (also split naming's groups)."""
        k = name_key(event_name)
        return name_key(self.synonyms[k]) if k in self.synonyms else k

    @functools.lru_cache(maxsize=256)  # noqa: B019 - a rule's name list is the same for every client of a run
    def canonical_set(self, names: tuple[str, ...]) -> frozenset[str]:
        """The canonical keys of a list of names (a rule's parameter such as its revenue events)."""
        return frozenset(self.canonical(n) for n in names)

    def config_verdict(self, *names: str | None) -> NameVerdict | None:
        """What the user's config says of any of these names, if anything: it wins over lists and data."""
        for n in names:
            if not n:
                continue
            k, raw = self.canonical(n), name_key(n)
            if k in self.config_macro or raw in self.config_macro:
                return NameVerdict("macro", "unknown", "config", f"config lists {n} under taxonomy.macro_events")
            if k in self.config_weak or raw in self.config_weak:
                return NameVerdict("micro", "low", "config", f"config lists {n} under taxonomy.weak_micro_events")
            if k in self.config_strong or raw in self.config_strong:
                return NameVerdict("micro", "medium", "config",
                                   f"config lists {n} under taxonomy.strong_micro_events")
        return None

    def returning_verdict(self, *names: str | None) -> NameVerdict | None:
        """A returning-user action by any of these names: listed (log_in, app_open, session_start) or named with a
        returning word or word pair ("Login - app", "Sign in"). Such an action counts people who came back."""
        for n in names:
            if not n:
                continue
            if name_key(n) in self.returning:
                return NameVerdict("micro", "low", "taxonomy", f"taxonomy: {n} is a returning-user action",
                                   returning=True)
            words = name_words(n)
            pairs = set(zip(words, words[1:], strict=False))
            hit = [" ".join(w) for w in sorted(self.returning_words)
                   if (len(w) == 1 and w[0] in words) or (len(w) == 2 and w in pairs)]
            if hit:
                return NameVerdict("micro", "low", "tokens", f"{n}: words {', '.join(hit)} (a returning-user "
                                   "action)", returning=True)
        return None

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - taxonomies live for the run; names repeat across rules
    def name_verdict(self, event_name: str) -> NameVerdict:
        """Config, then returning-user actions, then the profile's and the taxonomy's lists (spelling folded,
        synonyms merged), then words."""
        cfg = self.config_verdict(event_name)
        if cfg is not None:
            return cfg
        back = self.returning_verdict(event_name)
        if back is not None:
            return back
        k = self.canonical(event_name)
        if k in self.macro:
            src: Source = "profile" if k in self.profile_macro else "taxonomy"
            return NameVerdict("macro", "unknown", src, f"{src} lists {event_name} as a macro")
        if k in self.strong_micro:
            src = "profile" if k in self.profile_strong else "taxonomy"
            cls = self.strong_micro[k]
            return NameVerdict("micro", cls, src, f"{src} lists {event_name} as a {cls.replace('_', ' ')} micro")
        if k in self.weak_micro or k in self.automatic:
            what = "collected automatically" if k in self.automatic else "a weak micro"
            return NameVerdict("micro", "low", "taxonomy", f"taxonomy: {event_name} is {what}")
        return self.tokens.verdict(event_name)

    def category_verdict(self, category: str) -> NameVerdict:
        if category in self.macro_categories:
            return NameVerdict("macro", "unknown", "category", f"Ads category {category}")
        if category in self.strong_categories or category in self.weak_categories:
            cls = self.category_strength.get(category, "unknown")
            return NameVerdict("micro", cls, "category", f"Ads category {category}")
        return UNKNOWN_NAME

    def action_verdict(self, action: ConversionAction) -> NameVerdict:
        """An action's kind and prior: the config on its event or name; a returning-user action by its event or
        name, whatever its category; what its type counts (an app install or in-app purchase, a lead qualified in
        the CRM); the lists on its GA4 event, its Ads category (a macro category makes it a macro), the lists on
        its own name, then the words of its event and action names, then its category."""
        return self._action_verdict(action.ga4_event_name, action.name, action.category, action.type)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - as name_verdict: a pure function of names, category, type
    def _action_verdict(self, ga4_event_name: str | None, name: str, category: str, type_: str) -> NameVerdict:
        cfg = self.config_verdict(ga4_event_name, name)
        if cfg is not None:
            return cfg
        back = self.returning_verdict(ga4_event_name, name)
        if back is not None:
            return back
        if type_ in enums.APP_INSTALL_TYPES:
            return NameVerdict("macro", "unknown", "category", f"an app install ({type_})")
        if type_ in enums.APP_PURCHASE_TYPES:
            return NameVerdict("macro", "unknown", "category", f"an in-app purchase ({type_})")
        if type_ in enums.QUALIFIED_LEAD_TYPES or category in enums.QUALIFIED_LEAD_CATEGORIES or (
                type_ in enums.UPLOAD_TYPES and category in enums.LEAD_CATEGORIES):
            return NameVerdict("macro", "unknown", "category", f"a lead qualified after the first contact ({type_}, "
                               f"{category})")
        listed = self.name_verdict(ga4_event_name) if ga4_event_name else UNKNOWN_NAME
        if listed.source in ("profile", "taxonomy"):
            return listed
        cat = self.category_verdict(category)
        if cat.kind == "macro":
            return cat
        if name:
            named = self.name_verdict(name)
            if named.source in ("profile", "taxonomy"):
                return named
        for n in (ga4_event_name, name):
            if n:
                v = self.tokens.verdict(n)
                if v.kind != "unknown":
                    return v if cat.kind != "micro" else NameVerdict("micro", v.strength, "tokens",
                                                                     f"{v.detail}; {cat.detail}")
        return cat
