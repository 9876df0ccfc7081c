"""Jinja environment for the HTML report: autoescaping on, templates shipped in the package.

Autoescaping stops markup; the finalize hook stops what autoescaping lets through: every value a template
prints passes through `printable` first (a control character, a bidirectional override or a lone surrogate
becomes "?"), in text and in attribute values alike. Markup the templates build themselves (a macro's output,
`join` of escaped items) keeps its line breaks and loses any other non-printable character.

Escaping does not make a value safe where it is a URL or a CSS value: `href`, `src` and the accent colour go
through the filters `safe_url`, `logo_src` and `accent`, which return the value only when it has the one shape
allowed there (else "", and the template links nothing, shows no logo, keeps the default colour).
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from markupsafe import Markup

from auditor.business_model import profile_label
from auditor.campaigns import CAMPAIGN_HEADERS, campaigns_line
from auditor.funnel import funnel_caption, funnel_unit, side_note, spellings
from auditor.hierarchy import HIERARCHY_HEADERS, hierarchy_rows, macro_line
from auditor.outputs import digest
from auditor.outputs.options import rule_anchor
from auditor.outputs.wording import (
    CATEGORY_LEGEND,
    client_campaign_cells,
    client_fix,
    client_message,
    client_text,
    finding_text,
    resource_id,
    resource_label,
    subject_labels,
)
from auditor.text import printable

BREAK_AFTER = 30  # characters of a run without spaces in a table cell before it may break
DEFAULT_ACCENT = "#344054"  # neutral slate when the config sets no accent colour
_ACCENT = re.compile(r"#[0-9A-Fa-f]{6}")
# No whitespace, quote, angle bracket, backslash or backtick: nothing that could end or confuse an attribute
# even before escaping, and nothing a browser would strip to reveal another scheme.
_URL_TAIL = r"[^\s\"'<>\\`\x00-\x1f\x7f]*"
_LINK = re.compile(rf"(?:https?://[^\s\"'<>\\`/\x00-\x1f\x7f]{_URL_TAIL}|docs/{_URL_TAIL})")
_LOGO = re.compile(r"https://[^\s\"'<>\\`/\x00-\x1f\x7f]" + _URL_TAIL
                   + r"|data:image/(?:png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}")
SUBJECT_KINDS = {"conversion_action": "Google Ads conversion action", "key_event": "GA4 key event",
                 "event": "GA4 event", "property": "GA4 property", "data_retention": "GA4 setting",
                 "campaign": "Google Ads campaign"}


def campaign_view(r: Any) -> list[tuple[Any, list[str]]]:
    """(row, its cells in words) per campaign of a result, for the campaigns table."""
    return list(zip(r.campaigns or [], client_campaign_cells(r), strict=True))


def breakable(value: Any) -> Markup:
    """Text for a table cell: escaped, with a break opportunity (<wbr>) every BREAK_AFTER characters of a run
    without spaces longer than that (an id, a URL, a hostile name). Cells wrap at spaces and never inside a
    word (`overflow-wrap: break-word` does not let a column shrink below its longest word); only such a run may
    be broken, so no table can be wider than the screen."""
    from markupsafe import escape

    text = printable(value)
    if max(map(len, text.split(" ")), default=0) <= BREAK_AFTER:
        return escape(text)
    parts = []
    for word in text.split(" "):
        chunks = [word[i:i + BREAK_AFTER] for i in range(0, len(word), BREAK_AFTER)] or [""]
        parts.append(Markup("<wbr>").join(escape(c) for c in chunks))
    return Markup(" ").join(parts)


def finalize(value: Any) -> Any:
    """What a template prints, made printable (Jinja escapes it afterwards unless it is Markup)."""
    if isinstance(value, Markup):
        from auditor.outputs.escape import printable_lines

        return Markup(printable_lines(value))
    if isinstance(value, str):
        return value if value.isprintable() else printable(value)
    if value is None or isinstance(value, (bool, int, float, Undefined)):
        return value
    return printable(value)


def url_path(value: Any) -> str:
    """A relative link to a file the run wrote (clients/NAME.html) with every unsafe character percent-encoded,
    so a client name can neither leave the attribute nor change the scheme; a byte the file system gave as a
    surrogate is encoded as that byte."""
    try:
        return quote(str(value), safe="/", errors="surrogateescape")
    except UnicodeEncodeError:
        return quote(printable(value), safe="/")


def safe_url(value: Any) -> str:
    """`value` if it may be an href: an http(s) URL with a host, or the shipped rule catalogue (docs/...); else ""
    (a javascript: or data: URL, a protocol-relative //host, anything with spaces or markup characters)."""
    return value if isinstance(value, str) and _LINK.fullmatch(value) else ""


def logo_src(value: Any) -> str:
    """`value` if it may be an <img src>: an https URL or a base64 data:image URI (what `branding_of` makes of a
    file); else "". The config layer checks this too: the template does not rely on it."""
    return value if isinstance(value, str) and _LOGO.fullmatch(value) else ""


def accent(value: Any) -> str:
    """A #rrggbb colour for CSS, or the neutral default: nothing else reaches the stylesheet."""
    return value if isinstance(value, str) and _ACCENT.fullmatch(value) else DEFAULT_ACCENT


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("auditor.outputs", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True, finalize=finalize)
    env.globals["grade_colour"] = lambda g: {"A": "#1a7f37", "B": "#4c9a2a", "C": "#b58a00", "D": "#c4571b"}.get(
        g, "#b42318")
    env.globals["sev_colour"] = lambda s: {"critical": "#7a0916", "high": "#b42318", "medium": "#c4571b",
                                           "low": "#8a6d00", "info": "#475467"}.get(s, "#475467")
    env.globals["profile_label"] = profile_label
    env.globals["funnel_caption"] = funnel_caption
    env.globals["funnel_unit"] = funnel_unit
    env.globals["side_note"] = side_note
    env.globals["spellings"] = spellings
    env.globals["macro_line"] = macro_line
    env.globals["hierarchy_rows"] = hierarchy_rows
    env.globals["HIERARCHY_HEADERS"] = HIERARCHY_HEADERS
    env.globals["SUBJECT_KINDS"] = SUBJECT_KINDS
    env.globals["CAMPAIGN_HEADERS"] = CAMPAIGN_HEADERS
    env.globals["campaigns_line"] = campaigns_line
    env.globals["campaign_view"] = campaign_view
    env.globals["digest"] = digest
    env.globals["rule_anchor"] = rule_anchor
    env.globals["finding_text"] = finding_text
    env.globals["client_text"] = client_text
    env.globals["resource_label"] = resource_label
    env.globals["resource_id"] = resource_id
    env.globals["CATEGORY_LEGEND"] = CATEGORY_LEGEND
    env.filters["breakable"] = breakable
    env.filters["resource_label"] = resource_label
    env.filters["client_message"] = client_message
    env.filters["client_fix"] = client_fix
    env.filters["subject_labels"] = subject_labels
    env.filters["url_path"] = url_path
    env.filters["safe_url"] = safe_url
    env.filters["logo_src"] = logo_src
    env.filters["accent"] = accent
    return env
