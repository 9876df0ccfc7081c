"""What a finding is about, by name: resource ids of the snapshot resolved to the names a reader knows, with
the console screen where the fix is made.

Links go only to screens whose address is stable and needs nothing but ids the auditor has: the Google Ads
conversions summary of the customer, its campaigns screen, and the GA4 property's admin (events and key events,
data retention).
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.model import Client
from auditor.result import Subject

ADS_CONVERSIONS = "https://ads.google.com/aw/conversions?__e={customer}"
ADS_CAMPAIGNS = "https://ads.google.com/aw/campaigns?__e={customer}"
GA4_ADMIN = "https://analytics.google.com/analytics/web/#/p{property}/admin"


class Subjects:
    """Resolves the resources of one client's findings."""

    def __init__(self, client: Client) -> None:
        self.known: dict[str, Subject] = {}
        if client.ads is not None:
            url = ADS_CONVERSIONS.format(customer=client.ads.customer_id)
            for a in client.ads.actions:
                self.known[a.resource_name] = Subject(a.resource_name, a.name, "conversion_action", url)
            url = ADS_CAMPAIGNS.format(customer=client.ads.customer_id)
            for c in client.ads.campaigns or ():
                self.known[c.resource_name] = Subject(c.resource_name, c.name, "campaign", url)
        if client.ga4 is not None:
            prop = client.ga4.property
            url = GA4_ADMIN.format(property=prop.id)
            self.known[prop.name] = Subject(prop.name, prop.display_name, "property", url)
            self.known[f"{prop.name}/dataRetentionSettings"] = Subject(
                f"{prop.name}/dataRetentionSettings", "data retention", "data_retention", url)
            for k in client.ga4.key_events:
                self.known[k.name] = Subject(k.name, k.event_name, "key_event", url)
            self.event_url: str | None = url
            self.events = {e.event_name for e in client.ga4.events}
        else:
            self.event_url, self.events = None, set()

    def of(self, resources: Iterable[str]) -> tuple[Subject, ...]:
        out = []
        for r in resources:
            hit = self.known.get(r)
            if hit is None and r in self.events:  # a bare event name (naming rules)
                hit = Subject(r, r, "event", self.event_url)
            out.append(hit or Subject(r))
        return tuple(out)
