"""Regenerates docs/report.png, the picture of an HTML report in the README: the bundled sample client
lumen-analytics rendered to HTML and photographed by headless Chromium at a laptop's width.

    python docs/screenshot.py                  # writes docs/report.png
    python docs/screenshot.py --client harbor-dental --width 390 --height 1400 -o /tmp/phone.png

Needs Chromium (the Debian package `chromium`, or AUDITOR_CHROMIUM pointing at a Chrome/Chromium binary), the one
the PDF format uses. The page is a file on disk with the report's own Content-Security-Policy: nothing is loaded
from the network.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.audit import audit_folder, result_header  # noqa: E402
from auditor.outputs.document import write_document  # noqa: E402
from auditor.outputs.formats.pdf import require_engine  # noqa: E402
from auditor.outputs.options import Branding, RenderOptions  # noqa: E402
from auditor.ruleset import Ruleset  # noqa: E402


def report_html(client: str) -> str:
    """The HTML report of one bundled sample client, branded as an agency would brand it."""
    result = audit_folder(ROOT / "fixtures" / client, Ruleset.load())
    out = io.StringIO()
    options = RenderOptions(single=True, branding=Branding(agency_name="Northbeam Digital", accent_color="#2e6bd9"))
    write_document(out, "html", result_header(), [result], options=options)
    return out.getvalue()


def screenshot(html: str, png: Path, width: int, height: int) -> None:
    engine = require_engine()
    with tempfile.TemporaryDirectory(prefix="auditor-shot-") as tmp:
        page = Path(tmp, "report.html")
        page.write_text(html, encoding="utf-8")
        cmd = [engine, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars",
               "--disable-extensions", "--disable-sync", "--disable-background-networking",
               "--disable-component-update", f"--user-data-dir={Path(tmp, 'profile')}",
               f"--window-size={width},{height}", f"--screenshot={png.resolve()}", page.as_uri()]
        p = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        if p.returncode != 0 or not png.is_file():
            sys.exit(f"screenshot: {engine} failed: {p.stderr.decode('utf-8', 'replace')[-400:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--client", default="lumen-analytics", help="a folder of fixtures/ (default lumen-analytics)")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1500)
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "report.png")
    a = ap.parse_args()
    screenshot(report_html(a.client), a.output, a.width, a.height)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
