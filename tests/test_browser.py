"""report.html and the gallery, opened in a real browser (headless Chromium): they render, every image loads,
the console stays clean; screenshots are saved. Skipped only where Debian's chromium or chromium-driver is absent
(`make test` installs both as root)."""

import browser
import pytest
from pages import fake_run

from genlab.gallery import write_gallery
from genlab.training import TrainConfig, train

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=browser.missing() or "")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    d = browser.chrome(tmp_path_factory.mktemp("chromium-profile"))
    yield d
    d.quit()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A real tiny run (report.html, curves, samples) and a crashed one beside it."""
    root = tmp_path_factory.mktemp("runs")
    train(TrainConfig(model="vae", data="digits", epochs=2, batch_size=256, lr=1e-3, out=str(root / "vae"),
                      quiet=True, num_samples=16, model_options={"hidden": [16], "latent_dim": 2}))
    fake_run(root / "ddpm-crashed", "ddpm", "mnist", sample=None, progress={"iteration": 3, "finished": False})
    return root


def _assert_good(result, heading):
    assert result.problems == [], result.problems
    assert result.heading == heading and result.height > 300
    png = result.screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000  # a screenshot of a drawn page, not a blank one


def test_report_html_renders_with_every_image_in_the_browser(driver, runs, tmp_path):
    result = browser.check(driver, runs / "vae" / "report.html", tmp_path / "report.png")
    _assert_good(result, "vae on digits")
    assert set(result.images) == {"curves.png", "samples/epoch_001.png", "samples/reconstructions_001.png"}


def test_gallery_renders_with_every_image_in_the_browser(driver, runs, tmp_path):
    page = write_gallery(runs, tmp_path / "gallery")
    result = browser.check(driver, page, tmp_path / "gallery.png")
    _assert_good(result, "genlab gallery")
    assert len(result.images) == 1 and next(iter(result.images)).startswith("images/vae-")


def test_the_check_catches_a_broken_image_a_console_error_and_a_blank_page(driver, tmp_path):
    from genlab.webpage import page

    broken = tmp_path / "broken.html"
    broken.write_text(page("broken", '<h1>broken</h1><img src="images/missing.png" alt="gone">'))
    result = browser.check(driver, broken, tmp_path / "broken.png")
    assert result.broken_images == ["images/missing.png"]
    assert any("missing.png" in m for m in result.severe)  # the failed load is a SEVERE console entry
    script = tmp_path / "script.html"
    script.write_text(page("script", "<h1>script</h1><script>undefinedFunction();</script>"))
    assert any("undefinedFunction" in m for m in browser.check(driver, script, tmp_path / "s.png").severe)
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    assert any("did not render" in p for p in browser.check(driver, blank, tmp_path / "blank.png").problems)
