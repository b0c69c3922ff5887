#!/usr/bin/env python3
"""Screenshot of one figure of a Snakemake HTML report, with its caption, drawn by
headless Chromium (Debian: apt-get install chromium). It checks that the report
opens in a browser and shows the figure; docs/report.png is made with it:

    scripts/report_screenshot.py results/report.html docs/report.png figures/learning_curves.png
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000", "--virtual-time-budget=10000"]

# Opens the result the way a click on it would: the figure in the main pane, its
# caption and provenance in the side bar.
SHOW_RESULT = """
<script>
setTimeout(function () {
    const path = %s;
    if (!(path in results)) { document.title = "missing result " + path; return; }
    app.setView({navbarMode: "resultinfo", resultPath: path, content: "img", contentPath: results[path].data_uri});
}, 500);
</script>
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="the .html file of snakemake --report")
    parser.add_argument("screenshot", type=Path, help="the PNG to write")
    parser.add_argument("result", nargs="?", help="the figure to show, as the report names it; default: the first")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)

    html = args.report.read_text(encoding="utf-8")
    result = args.result
    if result is None:
        start = html.index("var results = {") + len("var results = ")
        results, _ = json.JSONDecoder().raw_decode(html[start:])
        result = next(path for path in results if path.endswith(".png"))
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "report.html"
        # The last </body>: the bundled scripts hold the string too.
        head, body_end, tail = html.rpartition("</body>")
        page.write_text(head + SHOW_RESULT % json.dumps(result) + body_end + tail, encoding="utf-8")
        profile = Path(scratch) / "profile"
        profile.mkdir()
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        command = [args.chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                   f"--screenshot={args.screenshot.resolve()}", page.as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not args.screenshot.exists():
        print(f"chromium failed ({done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr)
        return 1
    print(f"{args.screenshot}: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
