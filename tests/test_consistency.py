"""One verdict per action: after the rules run, no resource is told to be kept by one finding and demoted,
removed or unmarked by another (auditor.consistency)."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_real_shapes as shapes
from builders import action, ads, client, ruleset

from auditor.audit import _snapshot, resource_names, run_rules
from auditor.connectors.offline import client_dirs, load_client
from auditor.consistency import conflicts, reconcile
from auditor.engine import DEMOTE, KEEP, Finding
from auditor.hierarchy import Hierarchy
from auditor.model import Client

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def every_finding(c: Client) -> list[Finding]:
    """Every enabled rule's findings on `c`, before the consistency pass."""
    h = Hierarchy(c, ruleset().for_profile(c.profile)[0])
    return [f for o in run_rules(c, ruleset(), h)[0] for f in o.findings]


def test_a_keep_verdict_yields_to_a_demote_verdict_and_says_why():
    keep = Finding("micro-primary-goal", "info", "'A' is a proxy in place", ("r1",), advice=(("r1", KEEP),))
    drop = Finding("duplicate-conversion-action", "critical", "'A' and 'B' count one event twice", ("r1", "r2"),
                   advice=(("r2", KEEP), ("r1", DEMOTE)))
    out = reconcile([keep, drop], {"r1": "A"})
    assert out[1] == drop  # the finding that wins is untouched
    assert out[0].message.endswith("[yields for 'A': duplicate-conversion-action asks to set it to Secondary; "
                                   "see that finding]")
    assert out[0].advice == () and out[0].severity == "info" and conflicts(out) == {}


def test_the_same_action_is_not_a_duplicate_to_demote_and_a_proxy_to_keep():
    order = action("Purchase", conversions=12, value=1_400.0)
    tag = action("Add to cart", "ADD_TO_CART", conversions=40)  # 30% of adders buy: a proxy in place
    imported = action("add_to_cart (GA4)", "ADD_TO_CART", ga4_event="add_to_cart", conversions=39)
    c = client(ads=ads(order, tag, imported))
    found = every_finding(c)
    assert conflicts(found)  # before the pass: the import is a copy to demote and a proxy in place
    out = reconcile(found, resource_names(c))
    assert conflicts(out) == {}
    yielded = {f.rule: f for f in out if "yields for" in f.message}
    assert set(yielded) == {"micro-primary-goal", "low-bidding-volume"}  # both called the import the proxy to keep
    micro = yielded["micro-primary-goal"]
    assert micro.resources == (imported.resource_name,) and "is a proxy in place" in micro.message
    for f in yielded.values():
        assert "[yields for 'add_to_cart (GA4)': duplicate-conversion-action asks to set it to Secondary" in f.message


SHAPES = {
    "app, mixed campaigns": lambda: shapes._app(400, mixed=True)[0],
    "app, install campaign": lambda: shapes._app(12, mixed=False)[0],
    "CRM import with volume": lambda: shapes._crm(64)[0],
    "CRM import below threshold": lambda: shapes._crm(12)[0],
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_no_shape_gets_opposite_advice(name):
    c = SHAPES[name]()
    assert conflicts(reconcile(every_finding(c), resource_names(c))) == {}


@pytest.mark.parametrize("folder", [f.name for f in client_dirs(FIXTURES)])
def test_no_sample_client_gets_opposite_advice(folder):
    raw = load_client(FIXTURES / folder)
    raw.name = folder
    c, _ = _snapshot(raw, ruleset())
    assert conflicts(reconcile(every_finding(c), resource_names(c))) == {}


@pytest.mark.parametrize("folder", [f.name for f in client_dirs(FIXTURES) if (f / "ads").is_dir()])
def test_every_primary_action_of_a_sample_is_judged_and_no_returning_action_is_a_macro(folder):
    """On every sample client: each primary action is a macro, or a finding speaks of it; no returning-user
    action is ever a macro."""
    raw = load_client(FIXTURES / folder)
    raw.name = folder
    c, _ = _snapshot(raw, ruleset())
    assert c.ads is not None
    h = Hierarchy(c, ruleset().for_profile(c.profile)[0])
    spoken = {r for f in every_finding(c) for r in f.resources}
    for a in c.ads.primary_actions:
        ev = h.action(a)
        assert not (ev.returning and ev.strength == "macro"), a.name
        assert ev.strength == "macro" or a.resource_name in spoken, a.name
    assert h.macro is None or not any(h.action(a).returning for a in h.macro.actions)
