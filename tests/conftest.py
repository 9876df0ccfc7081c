"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for every rendering test (the HTML on a phone and a laptop, the PDF)."""
    from tests.test_html_report import Browser, chromium

    binary = chromium()
    if binary is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; or set AUDITOR_CHROMIUM)")
    b = Browser(binary)
    try:
        yield b
    finally:
        b.close()
