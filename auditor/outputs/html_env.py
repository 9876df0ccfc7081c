"""Jinja environment for the HTML report: autoescaping on, templates shipped in the package.

Autoescaping stops markup; the finalize hook stops what autoescaping lets through: every value a template
prints passes through `printable` first (a control character, a bidirectional override or a lone surrogate
becomes "?"), in text and in attribute values alike. Markup the templates build themselves (a macro's output,
`join` of escaped items) keeps its line breaks and loses any other non-printable character.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from markupsafe import Markup

from auditor.business_model import profile_label
from auditor.funnel import funnel_caption, funnel_unit
from auditor.hierarchy import HIERARCHY_HEADERS, hierarchy_rows, macro_line
from auditor.text import printable


def finalize(value: Any) -> Any:
    """What a template prints, made printable (Jinja escapes it afterwards unless it is Markup)."""
    if isinstance(value, Markup):
        from auditor.outputs.escape import printable_lines

        return Markup(printable_lines(value))
    if isinstance(value, str):
        return printable(value)
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
    env.globals["macro_line"] = macro_line
    env.globals["hierarchy_rows"] = hierarchy_rows
    env.globals["HIERARCHY_HEADERS"] = HIERARCHY_HEADERS
    env.filters["url_path"] = url_path
    return env
