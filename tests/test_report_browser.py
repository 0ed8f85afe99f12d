"""The generated report in a real browser (headless Chromium driven by Selenium).

A quick report on tiny settings is built once; the page must load every image (naturalWidth > 0)
without console errors, and a screenshot is saved beside it.
"""

import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest

from digitlab.reporting import build_report
from digitlab.reporting.build import STAGES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    summary = build_report(out, mode="quick", progress=False)
    return out, summary


def assert_every_figure_has_a_written_caption(page: str) -> None:
    """Each <figure> has a caption that is a sentence, not its key or file name respelled."""
    figures = re.findall(r'<figure><img src="([^"]+)"[^>]*><figcaption>(.*?)</figcaption>', page)
    assert len(figures) == page.count("<figure>") and figures
    for src, caption in figures:
        caption = unescape(caption)
        stem = Path(unescape(src)).stem
        assert caption.lower() not in (stem.lower(), stem.replace("_", " ").lower()), src
        assert len(caption.split()) >= 4 and caption[0].isupper(), (src, caption)


def test_quick_report_writes_every_file_and_reuses_stages(quick_report):
    out, summary = quick_report
    for name in ("index.html", "report.md", "summary.json"):
        assert (out / name).stat().st_size > 0
    saved = json.loads((out / "summary.json").read_text())
    assert saved["stages"]["final"]["final"]["test_accuracy"] > 0.5
    for figure in saved["figures"]:  # every figure the page shows exists and is listed
        assert (out / figure).stat().st_size > 1000
        assert figure in (out / "index.html").read_text()
    assert_every_figure_has_a_written_caption((out / "index.html").read_text())
    fresh = {name: _without_date((out / name).read_text()) for name in ("index.html", "report.md")}
    again = build_report(out, mode="quick", progress=False)
    assert all(t["reused"] for t in again["timings"].values())
    assert again["stages"] == json.loads(json.dumps(summary["stages"]))
    # the typed results rebuilt from the cached stage.json give the same sections, word for word
    assert {name: _without_date((out / name).read_text()) for name in fresh} == fresh
    for stage in STAGES:
        if stage.result_type is not None:
            cached = json.loads((out / "stages" / stage.name / "stage.json").read_text())
            typed = stage.from_json(cached["results"])
            assert isinstance(typed, stage.result_type) and not typed.extra
            assert typed.to_dict() == cached["results"] == summary["stages"][stage.name]
            assert json.dumps(typed.to_dict()) == json.dumps(cached["results"])


def test_quick_report_compares_four_networks_on_what_is_not_a_digit(quick_report):
    from digitlab.studies.honesty import FIGURES, NETWORKS

    out, summary = quick_report
    honesty = summary["stages"]["honesty"]
    assert list(honesty["networks"]) == list(NETWORKS)
    for name, network in honesty["networks"].items():
        assert 0 <= network["ece"] <= 1 and "letters" in network["kinds"], name
        assert (network["temperature"] is not None) == (name in ("calibrated", "honest"))
        assert all(0 <= k["auroc"] <= 1 for k in network["kinds"].values())
    assert list(honesty["figures"]) == list(FIGURES)
    page = (out / "index.html").read_text()
    assert '<section id="honesty">' in page and "of letters, the plain one to" in page
    for key, path in honesty["figures"].items():
        assert path in summary["figures"] and f"<figcaption>{FIGURES[key].caption}" in page


def _without_date(text: str) -> str:
    """The report without the time it was written (the subtitle's date and time)."""
    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "DATE", text)


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")
def test_report_page_loads_every_image_without_console_errors(quick_report):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    out, summary = quick_report
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1280,2000",
                 "--allow-file-access-from-files"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get((out / "index.html").as_uri())
        driver.execute_script("document.querySelectorAll('img').forEach(i => i.loading='eager')")
        driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const imgs = Array.from(document.images);
            Promise.all(imgs.map(i => i.complete ? null :
                new Promise(r => { i.onload = r; i.onerror = r; }))).then(() => done());
        """)
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])")
        assert len(images) == len(summary["figures"]) and images
        broken = [src for src, width in images if not width]
        assert not broken, f"images that did not load: {broken}"
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
        assert driver.save_screenshot(str(out / "screenshot.png"))
        assert (out / "screenshot.png").stat().st_size > 10_000
    finally:
        driver.quit()
