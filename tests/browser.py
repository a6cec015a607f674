"""A page check in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``) via Selenium.

``check(driver, page, screenshot)`` opens a local HTML file, and reports what a reader would see go wrong: the
page did not render (no height, no heading), an image that did not load (``complete`` and ``naturalWidth > 0``
say it did), SEVERE console entries (a failed resource load, a script error); it saves a screenshot of the
whole page. Nothing is downloaded: the browser and driver are the system's (Selenium Manager never runs), and
the browser's background networking is off.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH = 1280


def missing() -> str | None:
    """Why the browser check cannot run here (None when it can)."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            return (f"{path} is missing (Debian's {package}): install the browser with apt-get install chromium "
                    f"chromium-driver (`make test` does it as root)")
    return None


def chrome(profile: Path):
    """A headless Chromium with a fresh profile in ``profile``, its console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # belt and braces: Selenium Manager must never fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars", f"--window-size={WIDTH},900",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@dataclasses.dataclass
class PageCheck:
    title: str
    heading: str  # the text of the first <h1>
    height: int  # of the rendered body, in CSS pixels
    images: dict[str, bool]  # src → loaded (complete, naturalWidth > 0)
    severe: list[str]  # SEVERE console messages
    screenshot: Path

    @property
    def broken_images(self) -> list[str]:
        return [src for src, ok in self.images.items() if not ok]

    @property
    def problems(self) -> list[str]:
        """What a reader would see go wrong; empty for a good page."""
        out = [f"image did not load: {src}" for src in self.broken_images]
        out += [f"console error: {m}" for m in self.severe]
        if self.height <= 0 or not self.heading:
            out.append(f"page did not render (height {self.height}, heading {self.heading!r})")
        return out


def check(driver, page: Path, screenshot: Path, *, max_height: int = 6000) -> PageCheck:
    """Open ``page`` (a local file), look at it, and save a screenshot of the whole page (up to ``max_height``
    pixels tall) to ``screenshot``."""
    driver.get_log("browser")  # drop what an earlier page logged
    driver.get(Path(page).resolve().as_uri())
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);")
    heading = driver.execute_script("const h = document.querySelector('h1'); return h ? h.innerText : '';")
    height = int(driver.execute_script("return document.body ? document.body.scrollHeight : 0;"))
    severe = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    frame = int(driver.execute_script("return window.outerHeight - window.innerHeight;"))  # the window's own bars
    driver.set_window_size(WIDTH, min(max(height, 200), max_height) + frame)
    driver.save_screenshot(str(screenshot))
    return PageCheck(driver.title, heading, height, {src: bool(ok) for src, ok in images}, severe, Path(screenshot))
