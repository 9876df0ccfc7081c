"""Everything the auditor hands to people: report formats and delivery channels.

    outputs/
      base.py          the Format interface (begin, client, end)
      escape.py        untrusted text made safe per medium (Markdown, CSV)
      formats/         one module per format: table, markdown, json, html, csv, pdf, and the run summaries
      channels/        the Channel interface (deliver a finished run) and one module per channel: email (SMTP),
                       webhook (Slack or JSON)
      templates/       Jinja templates of the HTML report and the e-mails

Registries name each implementation as "module:attribute" so that nothing is imported before it is used: the
offline path never loads Jinja, and `--format pdf` alone looks for the PDF engine. Adding a format or a channel
is one new module plus one line in its registry (formats: auditor.conventions.FORMAT_REGISTRY; channels: below).
"""

from __future__ import annotations

import importlib
from typing import Any

from auditor.conventions import FORMAT_EXTENSIONS, FORMAT_REGISTRY, FORMATS

# format name -> its Format class, from the one registry of formats (auditor.conventions.FORMAT_REGISTRY)
FORMAT_CLASSES: dict[str, str] = {name: spec for name, (_, spec) in FORMAT_REGISTRY.items()}

# channel name -> its Channel class (agency runs deliver through every channel the config sets up)
CHANNEL_CLASSES: dict[str, str] = {
    "email": "auditor.outputs.channels.email:EmailChannel",
    "webhook": "auditor.outputs.channels.webhook:WebhookChannel",
}

__all__ = ["CHANNEL_CLASSES", "FORMATS", "FORMAT_CLASSES", "FORMAT_EXTENSIONS", "channel_class", "format_class"]


def _load(spec: str) -> Any:
    module, attr = spec.split(":")
    return getattr(importlib.import_module(module), attr)


def format_class(name: str) -> Any:
    """The Format class of a format name (see FORMAT_CLASSES)."""
    return _load(FORMAT_CLASSES[name])


def channel_class(name: str) -> Any:
    return _load(CHANNEL_CLASSES[name])
