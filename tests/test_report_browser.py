"""The generated report in a real browser (headless Chromium driven by Selenium).

A quick report on tiny settings is built once, in Slovenian, as ``digitlab report --quick --lang
sl`` builds it (the English text is checked section by section in test_report_captions.py); the
page must load every image (naturalWidth > 0) without console errors, a screenshot is saved
beside it, and no English is left in its headings, captions and findings.
"""

import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest

from digitlab.i18n import domain
from digitlab.reporting import build_report
from digitlab.reporting.build import STAGES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


LANG = "sl"


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    from digitlab.cli import main

    out = tmp_path_factory.mktemp("report")
    main(["report", "--quick", "--lang", LANG, "--no-progress", "--out", str(out)])
    return out, json.loads((out / "summary.json").read_text())


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
    again = build_report(out, mode="quick", progress=False, lang=LANG)
    assert all(t["reused"] for t in again["timings"].values())
    assert again["stages"] == summary["stages"]
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
    page = unescape((out / "index.html").read_text())
    assert '<section id="honesty">' in page and "črk, mreža »navadna« na" in page
    for key, path in honesty["figures"].items():
        caption = domain("report").gettext(FIGURES[key].caption, LANG)
        assert path in summary["figures"] and f"<figcaption>{caption}" in page


def _without_date(text: str) -> str:
    """The report without the time it was written (the subtitle's date and time)."""
    return re.sub(r"(· (?:mode|način) \w+ · )[^<\n]*", r"\1DATE", text)


#: words that would be English left in the Slovenian report (none of them is Slovenian)
ENGLISH = set("""
the and of with from for is are was were network networks digit digits accuracy training trained
epoch epochs image images seed seeds probability mean best worst confusion confusions answers
answer each every which what when than between after before step steps dream dreams dreamed real
kind kinds not its their this these wrong correct correctly mistake mistakes share top layer
layers hidden output input learning rate per over against letters noise honest plain robust
calibrated data split study studies analysis deep beyond assignment final overview count unseen
related series variant recipe preset ensemble test rotated shifted inverted black white read sure
confident calibration error retraining retrainings retrained percentage points median
time most least never reaches figure table left skipped stage failed source none yes no
""".split())


def english_words(page: str) -> dict[str, list[str]]:
    """English words in the page's headings, captions, findings, introductions and table heads,
    apart from names (»quoted«, `code`, the datasets' credits: MNIST, Adam, ReLU... are no
    words of the list): {word: [the texts it is in]}."""
    from digitlab.data.catalog import FASHION_CREDIT, MNIST_CREDIT

    found: dict[str, list[str]] = {}
    pattern = (r"<(h1|h2|figcaption|caption|th|li|summary)\b[^>]*>(.*?)</\1>"
               r'|<p class="(?:intro|note)">(.*?)</p>')
    for match in re.finditer(pattern, page, re.S):
        text = unescape(re.sub(r"<[^>]+>", " ", match.group(2) or match.group(3)))
        bare = text.replace(MNIST_CREDIT, " ").replace(FASHION_CREDIT, " ")
        bare = re.sub(r"»[^«]*«|`[^`]*`", " ", bare)
        for word in re.findall(r"[^\W\d_]+", bare):
            if word.lower() in ENGLISH:
                found.setdefault(word.lower(), []).append(text[:120])
    return found


def test_the_report_is_in_slovenian_with_no_english_left(quick_report):
    out, summary = quick_report
    page = (out / "index.html").read_text()
    assert summary["language"] == LANG and f'<html lang="{LANG}">' in page
    assert english_words(page) == {}
    # the check finds English where there is some
    assert set(english_words("<h2>The worst digit</h2><li>Accuracy of »best«</li>")) == {
        "the", "worst", "digit", "accuracy", "of"}
    text = unescape(page)
    assert "<h2>Analiza končne mreže</h2>" in text and "Matrika zmot" in text
    assert re.search(r"\d+,\d %", text) and not re.search(r"\d+\.\d %", text)  # 98,7 %
    assert re.search(r"\d{1,2}\. (januar|februar|marec|april|maj|junij|julij|avgust|september|"
                     r"oktober|november|december) \d{4}", text)  # the date in Slovenian
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# Kako nevronska mreža bere ročno pisane števke")


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
