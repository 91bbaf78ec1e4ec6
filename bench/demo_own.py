"""How fast "Try a picture of your own" answers, on a finished Guided-demo home, one page.

Launches the app on HOME (a copy of a home a `bench/demo_time.py --screenshots` walk left, e.g.
/tmp/demo_time_*/home: its demo model trained), opens one 1280x800 Chromium page on the results
and tries "Try a picture of your own" (bench.demo_shots.own_pictures): `--tries` val pictures
uploaded (seconds from the file chosen to the detections drawn) and `--tries` shapes drawn with
the mouse (from the pen lifted). Target: <= 1 s. Prints only
(the numbers go to docs/BENCHMARKS.md by hand, beside the walk they come from).

    .venv/bin/python bench/demo_own.py HOME [--tries 5] [--threads 2] [--shot PNG]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.demo_shots import launch, open_browser, open_page, own_pictures, own_shot, stop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--shot",
        type=Path,
        help="also screenshot the section afterwards here (e.g. docs/screenshots/guided_own.png)",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    proc, url = launch(args.home, "default", args.threads)
    try:
        with sync_playwright() as p:
            browser = open_browser(p)
            page = open_page(browser, url)
            page.wait_for_selector("#demo-gallery img", timeout=120_000)
            page.wait_for_timeout(3000)
            seconds = own_pictures(page, args.home, lambda: None, tries=args.tries)
            if args.shot:
                own_shot(page, args.shot)
            browser.close()
    finally:
        stop(proc, args.home)
    for kind, values in seconds.items():
        print(
            f"own {kind} s: {', '.join(f'{s:.2f}' for s in values)}; median "
            f"{statistics.median(values):.2f}, worst {max(values):.2f}"
        )


if __name__ == "__main__":
    main()
