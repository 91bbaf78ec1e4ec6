"""The Guided demo walked in the launched app by headless Chromium, for bench/demo_time.py
--screenshots: presses "Run the whole demo" and takes the README / docs screenshots at the
moments a presenter would point at, at 1280x800 and 1920x1080:

    guided_search    the search at work (scored cells, best cell, alphas)
    guided_report    the found cell against the random cells (bars filling in)
    guided_cell      the found cell (step 3)
    guided_train     the training gallery with loss and AP50 curves (half-way)
    guided_demo      the results: detections, score in words, the verdict (README's first)
    guided_own       "Try a picture of your own" after a shape drawn (1280x800 only)

Files: docs/screenshots/<name>.png (1280x800) and <name>_1920.png. Needs Debian's chromium.

Along the walk one page (1280x800, never clicked: what a room watching the presenter's screen
sees) stays open and is read about once a second; the presenter's page (the click on "Run the
whole demo") and the screenshot pages open only for their moment, so the worker does not share
the 2 cores with three polling pages. Read on the watching page: the panel's text, and the
pictures and charts in its viewport. The longest stretch without a change is kept per job kind
(search, train), twice: for any change (text included: the ETA counts down) and for pictures and
charts alone. At the end "Try a picture of your own" gets three val pictures uploaded one after
the other (seconds from the file chosen to the detections drawn) and three shapes drawn with the
mouse (seconds from the pen lifted to the detections drawn).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from core.app import demo
from core.engine import queries as q
from core.engine.store import Store
from core.nas import results
from core.train.preview import load_preview

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SIZES = {"": (1280, 800), "_1920": (1920, 1080)}
WALK_TIMEOUT_S = 3600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    tick: Callable[[], None] = lambda: None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for _ in range(2):
            tick()
            time.sleep(1)
    raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")


# what the watching page shows: the Guided panel's text, and the pictures and charts (their
# source, or their drawn size and marks) inside the viewport
_SCREEN_JS = """() => {
  const panel = document.querySelector('#tab-guided') || document.body;
  const seen = e => { const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight; };
  const media = [...panel.querySelectorAll('img, svg.main-svg')].filter(seen).map(e =>
    e.tagName === 'IMG' ? e.src : e.innerHTML.length + ':' + e.querySelectorAll('path').length);
  return [panel.innerText, media.join('|')];
}"""


class Stillness:
    """Samples a page that nobody clicks; `longest()` is the longest stretch without a visible
    change per running job kind, for any change and for pictures and charts alone."""

    def __init__(self, page, store: Store):
        self.page, self.store, self.samples, self.last = page, store, [], None

    def sample(self) -> None:
        try:
            text, media = self.page.evaluate(_SCREEN_JS)
        except Exception:  # noqa: BLE001 - a page between two renders: the next sample
            return
        running = [j["kind"] for j in q.list_jobs(self.store, status="running")]
        last = self.last or (None, None)
        self.samples.append(
            (time.monotonic(), running[0] if running else None, text != last[0], media != last[1])
        )
        self.last = (text, media)

    def longest(self) -> dict:
        out = {}
        for kind in ("search", "train"):
            times = [s for s in self.samples if s[1] == kind]
            if len(times) < 2:
                continue
            for key, col in (("any", 2), ("pictures", 3)):
                marks = [times[0][0]] + [s[0] for s in times if s[col]] + [times[-1][0]]
                gap, at = max((b - a, a) for a, b in zip(marks, marks[1:]))
                out[f"{kind}_{key}"] = gap
                print(
                    f"still {kind}/{key}: {gap:.1f} s from {at - self.samples[0][0]:.0f} s "
                    f"into the walk",
                    flush=True,
                )
        return out


def open_browser(playwright):
    """Headless Debian chromium (playwright cannot download its own here)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )


def open_page(
    browser, url: str, size: tuple[int, int] = SIZES[""], tick: Callable[[], None] | None = None
):
    """A page of its own context at `size`, on the app, once the Guided demo is drawn; `tick`
    is called about every half second while it loads (the watching page is sampled on: a
    page load of several seconds must not read as a still screen)."""
    page = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
    page.goto(url, wait_until="commit")
    _drawn(page, tick)
    return page


def _drawn(page, tick: Callable[[], None] | None) -> None:
    """Wait (60 s at most) until the page shows the Guided demo, calling `tick` meanwhile."""
    deadline = time.monotonic() + 60
    while not page.locator("#demo-run-all").first.is_visible():
        if time.monotonic() > deadline:
            raise TimeoutError("the app's page did not draw the Guided demo within 60 s")
        if tick:
            tick()
        page.wait_for_timeout(500)


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def launch(home: Path, preset: str, threads: int) -> tuple[subprocess.Popen, str]:
    """python app.py on a free port with this home and demo preset; returns (process, url)."""
    port = _free_port()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), GRADIO_ANALYTICS_ENABLED="False")
    log = open(home.parent / "app.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "app.py",
            "--home",
            str(home),
            "--port",
            str(port),
            "--demo-preset",
            preset,
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    _wait(lambda: _up(url) or proc.poll() is not None, 180, "the app")
    if proc.poll() is not None:
        raise RuntimeError(f"app.py exited; see {home.parent / 'app.log'}")
    return proc, url


def stop(proc: subprocess.Popen, home: Path) -> None:
    """Stop the app and the worker it started (by the worker's registered pid)."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    for worker in Store(home).live_workers():
        try:
            os.kill(worker["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass


def _moments(store: Store) -> list[tuple[str, int | None, Callable[[], bool], Callable[[], bool]]]:
    """(screenshot name, step to show or None for the current one, when it is due, when it is
    missed: a short preset may run past a moment between two polls)."""

    def walk() -> demo.Walk:
        return demo.guided_walk(store)

    def half_trained() -> bool:
        doc = load_preview(store, walk().train_id)
        return bool(doc) and doc["epoch"] >= max(1, doc["epochs"] // 2)

    def searched() -> bool:
        return walk().search_done

    def trained() -> bool:
        return walk().train_done

    def searching() -> bool:  # two cells trained, or (zero-cost) a dozen ranked
        w = walk()
        rows = results.architectures(store, w.search_id) if w.search_id else []
        trained = sum(
            a["role"] in ("derived", "candidate", "trained") and a["score"] is not None
            for a in rows
        )
        return trained >= 2 or sum(a["role"] == "candidate" for a in rows) >= 12

    return [
        ("guided_search", None, searching, searched),
        ("guided_cell", 3, searched, lambda: False),
        # the search step shown again once the search is done: the report's bars complete
        # (while it runs, the last random cell's end moves the walk on within seconds);
        # after the cell's step, as a label after the one clicked back to stays disabled
        ("guided_report", 2, searched, lambda: False),
        ("guided_train", None, half_trained, trained),
        ("guided_demo", None, trained, lambda: False),
    ]


def _show_step(page, step: int | None, tick: Callable[[], None]) -> None:
    """Show an earlier step (its label is clickable), or reload, which lands on the walk's
    current step (after a click back, the later labels stay disabled until the walk moves)."""
    if step is not None:
        page.locator("#demo-walk .step-label").nth(step - 1).click()
    else:
        page.reload(wait_until="commit")
        _drawn(page, tick)
    for _ in range(5):  # the load event and a tick or two: the step's views are drawn
        page.wait_for_timeout(1000)
        tick()


def _answered(page, before: str | None, start: float) -> float:
    """Seconds from `start` until "What the detector finds" shows a new picture (60 s at most)."""
    out = page.locator("#demo-own-out img")
    while time.monotonic() - start < 60:
        if out.count() and out.first.get_attribute("src") not in (None, before):
            break
        page.wait_for_timeout(20)
    return time.monotonic() - start


def _own_src(page) -> str | None:
    out = page.locator("#demo-own-out img")
    return out.first.get_attribute("src") if out.count() else None


SPOTS = [(0.28, 0.3), (0.7, 0.36), (0.45, 0.72)]  # where drawn loops go, as canvas fractions


def draw_loop(page, k: int, clear: bool = True) -> None:
    """Pick colour k and draw one closed loop (filled: a solid shape) at spot k with the mouse,
    on a cleared canvas unless `clear` is False; the pen stays down (the canvas sends the
    drawing when it is lifted: `page.mouse.up()`)."""
    import math

    if clear:
        page.click("#demo-own-draw .own-clear")
    page.locator("#demo-own-draw .own-color").nth(k % 6).click()
    box = page.locator("#demo-own-draw canvas").bounding_box()
    fx, fy = SPOTS[k % len(SPOTS)]
    cx, cy = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
    radius = box["width"] * 0.15
    page.mouse.move(cx + radius, cy)
    page.mouse.down()
    for step in range(1, 25):
        angle = 2 * math.pi * step / 24
        page.mouse.move(cx + radius * math.cos(angle), cy + radius * math.sin(angle))


def own_shot(page, path: Path) -> None:
    """Screenshot "Try a picture of your own" as the last try left it (1280x800)."""
    page.locator("#demo-own-draw").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 120)")
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))


def own_pictures(
    page, home: Path, tick: Callable[[], None], tries: int = 3
) -> dict[str, list[float]]:
    """ "Try a picture of your own": `tries` val pictures uploaded one after the other (seconds
    from the file chosen to the detections drawn: the upload included), then `tries` shapes
    drawn on one canvas (seconds from each pen lifted to the detections drawn)."""
    from core.data.dataset import load_records, open_dataset

    records = load_records(open_dataset(Store(home), "shapes-demo"), "val")[:tries]
    seconds: dict[str, list[float]] = {"upload": [], "draw": []}
    for record in records:
        if page.locator("#demo-own-in input[type=file]").count() == 0:
            # the upload box shows the last picture, without its file input: load it afresh
            page.reload(wait_until="commit")
            page.wait_for_selector("#demo-gallery img", timeout=60_000)
            page.wait_for_timeout(1000)
        before, start = _own_src(page), time.monotonic()
        page.locator("#demo-own-in input[type=file]").set_input_files(str(record.path))
        seconds["upload"].append(_answered(page, before, start))
        print(
            f"own picture {record.path.name}: {seconds['upload'][-1]:.2f} s - "
            f"{page.locator('#demo-own-text').inner_text().strip()}",
            flush=True,
        )
        tick()
        page.wait_for_timeout(1000)
    for k in range(tries):
        draw_loop(page, k, clear=k % len(SPOTS) == 0)
        before = _own_src(page)
        start = time.monotonic()
        page.mouse.up()
        seconds["draw"].append(_answered(page, before, start))
        print(
            f"own drawing {k + 1}: {seconds['draw'][-1]:.2f} s - "
            f"{page.locator('#demo-own-text').inner_text().strip()}",
            flush=True,
        )
        tick()
        page.wait_for_timeout(1000)
    return seconds


def walk_in_app(home: Path, preset: str, threads: int, shots: Path, watch) -> dict:
    """Launch the app, run the whole demo from the browser, take the screenshots; returns the
    longest still stretches (s, per job kind) and the own-picture detection times."""
    from playwright.sync_api import sync_playwright

    proc, url = launch(home, preset, threads)
    store = Store(home)
    try:
        _wait(lambda: "shapes-demo" in q.dataset_names(store), 600, "the first-start dataset")
        watch.start()
        shots.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = open_browser(p)
            # only the watching page stays open: the screenshot pages open at each moment
            # (pages polling all along would take CPU from the worker on a small machine)
            still = Stillness(open_page(browser, url), store)  # nobody clicks it
            presenter = open_page(browser, url)
            presenter.wait_for_timeout(3000)
            presenter.click("#demo-run-all")
            presenter.wait_for_timeout(2000)
            presenter.context.close()
            for name, step, due, missed in _moments(store):
                _wait(
                    lambda due=due, missed=missed: due() or missed(),
                    WALK_TIMEOUT_S,
                    name,
                    still.sample,
                )
                if not due():
                    print(f"{name}: missed (the walk ran past it)", flush=True)
                    continue
                for suffix, size in SIZES.items():
                    page = open_page(browser, url, size, still.sample)
                    _show_step(page, step, still.sample)
                    if name == "guided_demo":
                        page.wait_for_selector("#demo-gallery img", timeout=60_000)
                    if name == "guided_train":  # the pick's training sits below the trials
                        page.wait_for_selector("#demo-train-gallery img", timeout=60_000)
                        page.locator("#demo-train-gallery").scroll_into_view_if_needed()
                        page.wait_for_timeout(1000)
                    if name == "guided_report":  # the bars sit below the scored cells
                        page.locator("#demo-phase").scroll_into_view_if_needed()
                        page.wait_for_timeout(500)
                    page.screenshot(path=str(shots / f"{name}{suffix}.png"))
                    page.context.close()
                print(f"{name}: taken", flush=True)
            page = open_page(browser, url, tick=still.sample)
            page.wait_for_selector("#demo-gallery img", timeout=60_000)
            own = own_pictures(page, home, still.sample)
            own_shot(page, shots / "guided_own.png")
            browser.close()
        return {"still": still.longest(), "own_s": own}
    finally:
        stop(proc, home)
