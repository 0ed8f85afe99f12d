"""The interactive lab (`digitlab serve`) in a real browser: headless Chromium driven by Selenium.

One server runs for the module on a free 127.0.0.1 port, serving a tiny network trained here
(and a copy of it, so that two networks answer side by side). Each test opens the page fresh and
checks what a person would see: every panel updates, answers agree with `digitlab predict`,
training streams live, the quiz keeps score, a dream streams its steps; no console errors.
"""

from __future__ import annotations

import gettext
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from digitlab.cli import cli
from digitlab.config import TrainConfig
from digitlab.data import load_dataset
from digitlab.i18n import PLURAL_FORMS, catalog_path
from digitlab.images import load_digit_images
from digitlab.modelio import load_model, save_model
from digitlab.training import train

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)

REPLAYED_DIGITS = 100
WAIT_S = 30


# ----------------------------------------------------------------------------- the server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Lab:
    """A `digitlab serve` process on a free port; stopped (and waited for) by `stop`."""

    def __init__(self, runs: Path):
        self.runs = runs
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digitlab", "serve", "--runs", str(runs),
             "--port", str(self.port), "--no-open"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                if _get(self.url + "/api/health")["status"] == "ok":
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"digitlab serve did not start: {self.process.stdout.read()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The server, started on an empty runs folder (the first start of a fresh install)."""
    server = Lab(tmp_path_factory.mktemp("runs"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def runs(lab) -> Path:
    """A tiny network trained in a second or two (about 88 % right), and a copy of it, put
    where the running server finds them."""
    config = TrainConfig(hidden=[48], epochs=1, trace_every=3000)
    train(config, run_dir=lab.runs / "tiny", progress=False)
    shutil.copytree(lab.runs / "tiny", lab.runs / "tiny-copy")
    return lab.runs


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1366,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(90)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, lab, runs):
    """The lab's page on the tiny network, loaded and ready; fails the test on any console error
    it logged."""
    assert _post(lab.url + "/api/models/active", {"id": "tiny"})[0] == 200
    browser.get(lab.url + "/")
    wait_for(browser, "return document.body.dataset.ready === '1'")
    yield browser
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


# ----------------------------------------------------------------------------- helpers
def wait_for(driver, script: str, *args, timeout: float = WAIT_S):
    """Poll a JS expression until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {script}")
        time.sleep(0.05)


def by_testid(driver, name: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{name}"]')


def text(driver, name: str) -> str:
    return driver.execute_script(
        "return document.querySelector(`[data-testid='${arguments[0]}']`).textContent.trim()", name)


def count(driver, selector: str) -> int:
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector)


def pen_strokes(driver, strokes: list[list[tuple[float, float]]]) -> None:
    """Real pointer input (Selenium's pen pointer): each stroke is points in [0, 1] of the sheet."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    canvas = by_testid(driver, "draw-canvas")
    side = canvas.rect["width"]
    for stroke in strokes:
        actions = ActionBuilder(driver, mouse=PointerInput(interaction.POINTER_PEN, "pen"))
        pointer = actions.pointer_action
        for i, (x, y) in enumerate(stroke):
            pointer.move_to(canvas, int((x - 0.5) * side), int((y - 0.5) * side))
            if i == 0:
                pointer.pointer_down()
        pointer.pointer_up()
        actions.perform()


SEVEN = [[(0.28, 0.25), (0.45, 0.24), (0.6, 0.23), (0.72, 0.24), (0.66, 0.38), (0.6, 0.5),
          (0.54, 0.62), (0.5, 0.75), (0.47, 0.82)],
         [(0.42, 0.52), (0.55, 0.51), (0.66, 0.5)]]


SEVEN_NOW = """
const [strokes, done] = [arguments[0], arguments[arguments.length - 1]];
const canvas = document.querySelector('[data-testid=draw-canvas]');
const prediction = document.querySelector('[data-testid=prediction]');
const box = canvas.getBoundingClientRect();
strokes.forEach((stroke, id) => {
  const at = ([x, y], type) => canvas.dispatchEvent(new PointerEvent(type, {pointerId: 20 + id,
    pointerType: 'pen', isPrimary: true, bubbles: true, cancelable: true, button: 0,
    buttons: type === 'pointerup' ? 0 : 1, clientX: box.left + x * box.width,
    clientY: box.top + y * box.height}));
  at(stroke[0], 'pointerdown');
  for (const point of stroke.slice(1)) at(point, 'pointermove');
  at(stroke[stroke.length - 1], 'pointerup');
});
const answered = () => (prediction.dataset.version === canvas.dataset.version
  ? done(prediction.textContent.trim()) : setTimeout(answered, 5));
answered();
"""


def draw_seven_at_once(driver) -> str:
    """The seven of `draw_seven` as pointer events sent by the page itself (no pen's pace)."""
    return driver.execute_async_script(SEVEN_NOW, SEVEN)


def draw_seven(driver) -> str:
    pen_strokes(driver, SEVEN)
    wait_for(driver, "const p = document.querySelector('[data-testid=prediction]');"
                     "return p.dataset.version === "
                     "document.querySelector('[data-testid=draw-canvas]').dataset.version")
    return text(driver, "prediction")


def picture_ink(driver, name: str) -> float:
    """Mean brightness of a 28×28 picture canvas (0: black or never painted)."""
    return driver.execute_script("""
        const c = document.querySelector(`[data-testid='${arguments[0]}']`);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] + d[i + 1] + d[i + 2];
        return s / (3 * 255 * c.width * c.height);""", name)


def replay_strokes(image: np.ndarray, low: float = 0.1, full: float = 0.9) -> list[dict]:
    """A test digit as pen strokes, row by row, in [0, 1] coordinates of the sheet.

    One stroke one pixel high per run of full ink (>= ``full``) in each row; each grey pixel
    (>= ``low``) is a short stroke whose width is its grey level, so that it covers that share
    of its pixel and the drawing keeps the digit's soft edges.
    """
    strokes = []
    grid = image.reshape(28, 28)
    for r in range(28):
        y = (r + 0.5) / 28
        c = 0
        while c < 28:
            if grid[r, c] >= full:
                start = c
                while c < 28 and grid[r, c] >= full:
                    c += 1
                strokes.append({"width": 1 / 28,
                                "points": [((start + 0.5) / 28, y), ((c - 0.5) / 28, y)]})
                continue
            if grid[r, c] >= low:
                width = float(grid[r, c]) / 28
                reach = (1 / 28 - width) / 2  # round caps end at the pixel's edges
                centre = (c + 0.5) / 28
                strokes.append({"width": width,
                                "points": [(centre - reach, y), (centre + reach, y)]})
            c += 1
    return strokes


REPLAY = """
const [digits, done] = [arguments[0], arguments[arguments.length - 1]];
const canvas = document.querySelector('[data-testid=draw-canvas]');
const prediction = document.querySelector('[data-testid=prediction]');
const error = document.querySelector('[data-testid=draw-error]');
const clear = document.querySelector('[data-testid=clear]');
const answers = [];
const answered = () => new Promise((resolve) => {
  const check = () => {
    const v = canvas.dataset.version;
    if (prediction.dataset.version === v) resolve(prediction.textContent.trim());
    else if (error.dataset.version === v && !error.hidden) resolve('error: ' + error.textContent);
    else setTimeout(check, 5);
  };
  check();
});
(async () => {
  for (const strokes of digits) {
    clear.click();
    const box = canvas.getBoundingClientRect();
    let id = 10;
    for (const stroke of strokes) {
      window.digitlab.pad.penWidth = stroke.width;
      const at = ([x, y], type) => canvas.dispatchEvent(new PointerEvent(type, {
        pointerId: id, pointerType: 'pen', isPrimary: true, bubbles: true, cancelable: true,
        button: 0, buttons: type === 'pointerup' ? 0 : 1,
        clientX: box.left + x * box.width, clientY: box.top + y * box.height}));
      const points = stroke.points;
      at(points[0], 'pointerdown');
      for (const point of points.slice(1)) at(point, 'pointermove');
      at(points[points.length - 1], 'pointerup');
      id += 1;
    }
    answers.push(await answered());
  }
  done(answers);
})();
"""


# ----------------------------------------------------------------------------- the tests
def test_fresh_start_offers_to_train_the_assignment_network(browser, lab):
    if any(lab.runs.iterdir()):
        pytest.skip("an earlier test already trained networks into the runs folder")
    browser.get(lab.url + "/")
    wait_for(browser, "return document.body.dataset.ready === '1'")
    assert by_testid(browser, "empty-state").is_displayed()
    assert "assignment" in by_testid(browser, "empty-train").text
    assert by_testid(browser, "active-model").get_attribute("disabled") is not None
    by_testid(browser, "empty-train").click()  # the server takes the offer: a training runs ...
    wait_for(browser, "return !document.querySelector('[data-testid=training-pill]').hidden")
    assert _get(lab.url + "/api/train")["state"] == "running"
    status, _ = _post(lab.url + "/api/train/cancel", {})  # ... stopped here to keep this short
    assert status == 200
    wait_for(browser, "return document.querySelector('[data-testid=train-state]').dataset.state"
                      " === 'cancelled'")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_drawing_updates_every_draw_panel_and_both_networks(page):
    assert text(page, "prediction") == ""
    assert picture_ink(page, "prepared") == 0
    digit = draw_seven(page)
    assert digit.isdigit() and len(digit) == 1
    assert text(page, "prediction-calibration") == "not calibrated"
    values = [text(page, f"probability-{d}") for d in range(10)]
    total = sum(float(v.replace("<", "").replace("%", "").strip()) for v in values)
    assert 98 <= total <= 102, values  # the ten bars show probabilities that add up
    assert picture_ink(page, "prepared") > 0.03  # the 28×28 image it reads
    assert 0.3 < picture_ink(page, "saliency") < 1  # red/blue on white: painted
    assert int(by_testid(page, "units").get_attribute("data-count")) > 0
    # the second network is a copy of the first: the same answer, side by side
    page.execute_script("const compare = document.querySelector('[data-testid=compare-model]');"
                        "compare.value = 'tiny-copy'; compare.dispatchEvent(new Event('change'));")
    wait_for(page, "return document.querySelector('[data-testid=prediction]').dataset.version"
                   " === document.querySelector('[data-testid=draw-canvas]').dataset.version")
    assert text(page, "compare-prediction") == digit
    for name in ("network-canvas", "compare-network-canvas"):  # the whole network, lit, twice
        canvas = by_testid(page, name)
        assert canvas.get_attribute("data-layers") == "1", name
        assert int(canvas.get_attribute("data-links")) > 0, name
        assert page.execute_script(  # painted: some pixels are not transparent
            "const c = arguments[0]; const d = c.getContext('2d')"
            ".getImageData(0, 0, c.width, c.height).data;"
            "let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0;"
            "return n / (d.length / 4)",
            canvas) > 0.1, name

    before = picture_ink(page, "prepared")
    pen_strokes(page, [[(0.2, 0.9), (0.8, 0.9)]])  # a line below: the answer is asked again
    wait_for(page, "return Math.abs(arguments[0] - (() => {"
                   "const c = document.querySelector('[data-testid=prepared]');"
                   "const d = c.getContext('2d').getImageData(0, 0, 28, 28).data;"
                   "let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i];"
                   "return s / (255 * 784); })()) > 1e-3", before)
    by_testid(page, "undo").click()
    wait_for(page, "return document.querySelector('[data-testid=prediction]').dataset.version"
                   " === document.querySelector('[data-testid=draw-canvas]').dataset.version")
    assert text(page, "prediction") == digit  # back to the seven alone
    by_testid(page, "clear").click()
    assert text(page, "prediction") == "" and text(page, "probability-7") == ""
    assert picture_ink(page, "prepared") == 0
    assert by_testid(page, "network-canvas").get_attribute("data-layers") == "0"


def test_a_calibrated_network_below_its_threshold_answers_not_a_digit(page, lab, runs):
    saved = load_model(runs / "tiny")  # the same network, its probabilities softened (T = 5)
    picky = runs / "wary"  # so that no answer reaches the threshold: never a digit
    save_model(picky / "model.npz", saved.network, config=saved.config,
               extra={"calibration": {"temperature": 5.0, "threshold": 0.99}})
    older = (runs / "tiny" / "model.npz").stat().st_mtime - 100  # listed after the plain ones,
    os.utime(picky / "model.npz", (older, older))  # so only a preference puts it beside them
    try:
        assert _post(lab.url + "/api/models/active", {"id": "wary"})[0] == 200
        page.get(lab.url + "/")
        wait_for(page, "return document.body.dataset.ready === '1'")
        assert draw_seven(page) == "not a digit"
        assert "not-digit" in by_testid(page, "prediction").get_attribute("class")
        assert text(page, "prediction-sure").startswith("best guess ")
        assert by_testid(page, "prediction").get_attribute("data-why") == "unsure"
        assert text(page, "prediction-calibration") == "calibrated (T = 5.00)"
        presets = wait_for(page, "const o = [...document.querySelectorAll('#train-preset option')]"
                                 ".map((o) => o.value); return o.includes('honest') && o;")
        assert {"assignment", "report", "robust", "honest"} <= set(presets)
        assert by_testid(page, "compare-model").get_attribute("value") != "wary"

        # a plain network is shown beside the one that can say "not a digit", by default
        assert _post(lab.url + "/api/models/active", {"id": "tiny"})[0] == 200
        page.get(lab.url + "/")
        wait_for(page, "return document.body.dataset.ready === '1'")
        wait_for(page, "return document.querySelector('[data-testid=compare-model]').value")
        assert by_testid(page, "compare-model").get_attribute("value") == "wary"

        # the quiz and the probes question the one that can say "not a digit" too, by default
        page.find_element("id", "tab-quiz").click()
        wait_for(page, "return document.querySelector('[data-testid=quiz-image]').dataset.index")
        assert by_testid(page, "quiz-model").get_attribute("value") == "wary"
        page.find_element("id", "tab-nondigit").click()
        wait_for(page, "return document.querySelectorAll('[data-testid=probe-flag]').length")
        assert by_testid(page, "nondigit-model").get_attribute("value") == "wary"
        flags = page.execute_script("return [...document.querySelectorAll("
                                    "'[data-testid=probe-flag]')].map((f) => f.textContent)")
        assert set(flags) == {"not a digit ✓"}  # by its own threshold (0.99): never a digit
        page.execute_script("const s = document.querySelector('[data-testid=nondigit-model]');"
                            "s.value = 'tiny'; s.dispatchEvent(new Event('change'));")
        wait_for(page, "return [...document.querySelectorAll('[data-testid=probe-flag]')]"
                       ".some((f) => f.textContent === 'fooled')")  # the plain one, when asked
    finally:
        shutil.rmtree(picky)
        _post(lab.url + "/api/models/active", {"id": "tiny"})


def test_a_sure_answer_unlike_any_digit_inside_the_network_is_not_a_digit(page, lab, runs):
    """The second test: a network whose first hidden layer sees no digit in anything (its
    Mahalanobis threshold is out of reach) says "not a digit" however sure, and says why."""
    from digitlab.calibration import FLATTEN_BELOW, Calibration, HiddenCheck
    from digitlab.mahalanobis import ClassGaussians

    saved = load_model(runs / "tiny")
    width = saved.network.sizes[1]
    calibration = Calibration(temperature=1.0, threshold=0.0, hidden=HiddenCheck(
        ClassGaussians(np.zeros((10, width)), np.eye(width)), threshold=1.0,
        reference=np.linspace(1.0, 2.0, 200)))  # every drawing below all 200: flattened q·200×
    factor = f"{FLATTEN_BELOW * 200:.2f}"
    strange = runs / "strange"
    save_model(strange / "model.npz", saved.network, config=saved.config,
               extra={"calibration": calibration.to_dict()}, extra_arrays=calibration.arrays())
    try:
        assert _post(lab.url + "/api/models/active", {"id": "strange"})[0] == 200
        page.get(lab.url + "/")
        wait_for(page, "return document.body.dataset.ready === '1'")
        assert draw_seven(page) == "not a digit"
        assert by_testid(page, "prediction").get_attribute("data-why") == "unlike"
        assert text(page, "prediction-sure").endswith("but unlike any digit inside the network")
        assert text(page, "prediction-calibration") == (
            f"calibrated (T = 1.00), flattened ×{factor}: less digit-like than 100\u00a0% of "
            "real digits")
        title = by_testid(page, "prediction-calibration").get_attribute("title")
        assert f"its answer is flattened toward uniform: {factor}× the temperature" in title
    finally:
        shutil.rmtree(strange)
        _post(lab.url + "/api/models/active", {"id": "tiny"})


def test_an_ensemble_is_chosen_and_read_like_a_network(page, lab, runs):
    from digitlab.ensembles import save_ensemble

    save_ensemble([runs / "tiny", runs / "tiny-copy"], runs / "pair")
    try:
        page.refresh()
        wait_for(page, "return document.body.dataset.ready === '1'")
        labels = page.execute_script("return [...document.querySelectorAll("
                                     "'[data-testid=active-model] option')].map((o) => o.text)")
        assert any(label.startswith("pair · ensemble of 2 networks") for label in labels)
        page.execute_script("const s = document.querySelector('[data-testid=active-model]');"
                            "s.value = 'pair'; s.dispatchEvent(new Event('change'));")
        wait_for(page, "return document.querySelector('#draw-model-name').textContent"
                       " === '(pair)'")
        digit = draw_seven_at_once(page)
        assert by_testid(page, "prediction").get_attribute("data-model") == "pair"
        expected = load_model(runs / "tiny").network.probabilities(np.asarray(
            page.execute_script("return window.digitlab.lab.drawing.prepared"),
            np.float32).reshape(1, -1))[0]  # two copies of one network: its own answer
        assert digit == str(int(expected.argmax()))
        assert "ensemble averages" in text(page, "units")  # no one network's units to show
        assert page.find_element("id", "saliency-caption").text.startswith("An ensemble")
    finally:
        _post(lab.url + "/api/models/active", {"id": "tiny"})
        shutil.rmtree(runs / "pair")


def test_replayed_test_digits_agree_with_digitlab_predict(page, runs, tmp_path):
    dataset = load_dataset("mnist-sample", seed=0)
    images = dataset.test.images[:REPLAYED_DIGITS]
    paths = []
    for i, image in enumerate(images):  # the digits as PNG files, read as `digitlab predict` does
        path = tmp_path / f"digit-{i}.png"
        Image.fromarray((image.reshape(28, 28) * 255).round().astype(np.uint8)).save(path)
        paths.append(path)
    network = load_model(runs / "tiny").network
    expected = network.probabilities(load_digit_images(paths)).argmax(axis=1)

    page.execute_script("""
        const compare = document.querySelector('[data-testid=compare-model]');
        compare.value = ''; compare.dispatchEvent(new Event('change'));""")
    answers = page.execute_async_script(REPLAY, [replay_strokes(image) for image in images])
    assert len(answers) == REPLAYED_DIGITS
    agree = sum(a == str(int(e)) for a, e in zip(answers, expected, strict=True))
    assert agree >= 0.95 * REPLAYED_DIGITS, (agree, answers)

    # an uploaded PNG is read from its own bytes: exactly the answer of `digitlab predict`
    for i in range(3):
        before = by_testid(page, "draw-canvas").get_attribute("data-version")
        by_testid(page, "upload").send_keys(str(paths[i]))
        wait_for(page, "const v = document.querySelector('[data-testid=draw-canvas]')"
                       ".dataset.version; return v !== arguments[0] && v === "
                       "document.querySelector('[data-testid=prediction]').dataset.version", before)
        assert text(page, "prediction") == str(int(expected[i]))


UNNAMED_CONTROLS = """
return [...document.querySelectorAll('button, input, select, canvas')].filter((el) => {
  const label = el.id && document.querySelector(`label[for="${el.id}"]`);
  const named = el.getAttribute('aria-label') || label || el.closest('label')
    || el.textContent.trim();
  return !named && !el.hidden;  // a hidden one (the training badge) gets its text when shown
}).map((el) => el.id || el.outerHTML.slice(0, 80));
"""


def test_every_control_is_named_and_the_tabs_work_from_the_keyboard(page):
    from selenium.webdriver.common.keys import Keys

    assert page.execute_script(UNNAMED_CONTROLS) == []
    page.find_element("id", "tab-draw").send_keys(Keys.ARROW_RIGHT)
    wait_for(page, "return document.activeElement.id === 'tab-models'"
                   " && !document.querySelector('[data-testid=panel-models]').hidden")
    page.switch_to.active_element.send_keys(Keys.END)
    wait_for(page, "return !document.querySelector('[data-testid=panel-nondigit]').hidden")
    assert page.execute_script("return location.hash") == "#nondigit"


def test_models_panel_lists_runs_shows_curves_and_switches_the_active_network(page):
    page.find_element("id", "tab-models").click()
    rows = wait_for(page, "const r = document.querySelectorAll('#models-body tr[data-model]');"
                          "return r.length >= 2 ? r.length : 0")
    assert rows >= 2
    wait_for(page, "return document.querySelectorAll('#detail-loss path').length > 0")
    assert "784-48-10" in text(page, "model-detail")
    assert by_testid(page, "active-model").get_attribute("value") == "tiny"
    page.execute_script("document.querySelector('tr[data-model=\"tiny-copy\"] button').click()")
    wait_for(page, "return document.querySelector('[data-testid=active-model]').value"
                   " === 'tiny-copy'")
    assert _get(page.current_url.split("#")[0] + "api/models")["active"] == "tiny-copy"


def test_training_from_the_page_streams_live_then_evaluates(page, lab):
    page.find_element("id", "tab-train").click()
    page.execute_script("""
        window.seen = [];
        new MutationObserver(() => window.seen.push([
            document.querySelectorAll('#train-epochs-body tr').length,
            document.querySelector('[data-testid=train-state]').dataset.state || '',
            document.querySelector('[data-testid=train-running-loss]').textContent]))
          .observe(document.querySelector('.train-live'), {subtree: true, childList: true,
                                                          characterData: true});
        const set = (id, v) => { document.querySelector(`[data-testid=${id}]`).value = v; };
        set('train-hidden', '16'); set('train-epochs', '2'); set('train-batch', '32');
        set('train-name', 'from-page');""")
    by_testid(page, "train-start").click()
    wait_for(page, "return document.querySelector('[data-testid=train-state]').dataset.state"
                   " === 'finished'", timeout=60)
    seen = page.execute_script("return window.seen")
    assert any(rows == 1 and state == "running" for rows, state, _ in seen)  # epoch 1 shown live
    assert any(loss not in ("–", "") for _, state, loss in seen if state == "running")
    assert count(page, "#train-epochs-body tr") == 2
    assert count(page, "#train-loss-chart circle") >= 2
    wait_for(page, "return [...document.querySelectorAll('[data-testid=active-model] option')]"
                   ".some(o => o.value === 'from-page')")
    result = CliRunner().invoke(cli, ["evaluate", str(lab.runs / "from-page")])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output.lower()
    by_testid(page, "train-use").click()  # "Question it": the new network answers drawings
    wait_for(page, "return document.querySelector('[data-testid=active-model]').value"
                   " === 'from-page' && !document.querySelector('[data-testid=panel-draw]').hidden")
    page.find_element("id", "tab-train").click()

    # a second training while one runs: a clear 409; the page follows the running one and
    # cancels it
    status, _ = _post(lab.url + "/api/train", {"hidden": [8], "epochs": 50, "name": "elsewhere"})
    assert status == 202
    by_testid(page, "train-start").click()
    wait_for(page, "const e = document.querySelector('[data-testid=train-error]');"
                   "return !e.hidden && e.textContent.includes('Busy')")
    wait_for(page, "return !document.querySelector('[data-testid=train-cancel]').disabled")
    by_testid(page, "train-cancel").click()
    wait_for(page, "return document.querySelector('[data-testid=train-state]').dataset.state"
                   " === 'cancelled'", timeout=60)
    assert _get(lab.url + "/api/train")["state"] == "cancelled"
    logged = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert all("409" in e["message"] for e in logged), logged  # the refused request alone


def test_quiz_reveals_answers_and_keeps_score(page):
    page.find_element("id", "tab-quiz").click()
    wait_for(page, "return document.querySelector('[data-testid=quiz-image]').dataset.index")
    assert picture_ink(page, "quiz-image") > 0.02
    first = page.execute_script(
        "return document.querySelector('[data-testid=quiz-image]').dataset.index")
    by_testid(page, "quiz-guess-3").click()
    reveal = by_testid(page, "quiz-reveal")
    wait_for(page, "return !document.querySelector('[data-testid=quiz-reveal]').hidden")
    true_label = int(reveal.get_attribute("data-true-label"))
    network = int(reveal.get_attribute("data-network-answer"))
    assert true_label != network  # only mistakes are quizzed
    score = page.execute_script("return ['score-rounds', 'score-person', 'score-other',"
                                "'score-same'].map(id => +document.getElementById(id).textContent)")
    assert score == [1, int(true_label == 3), int(3 not in (true_label, network)),
                     int(network == 3)]
    by_testid(page, "quiz-next").click()
    wait_for(page, "return document.querySelector('[data-testid=quiz-image]').dataset.index"
                   " !== arguments[0]", first)
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(page).send_keys("5").perform()  # the keyboard answers too
    wait_for(page, "return document.getElementById('score-rounds').textContent === '2'")


def test_dream_streams_steps_from_the_drawing_and_from_black(page):
    draw_seven(page)
    by_testid(page, "turn-into").click()  # from the Draw panel: "turn it into another digit"
    wait_for(page, "return !document.querySelector('[data-testid=panel-dream]').hidden")
    by_testid(page, "dream-digit-3").click()
    assert by_testid(page, "dream-start").text == "Turn my drawing into a 3"
    page.execute_script("document.querySelector('[data-testid=dream-steps]').value = 30")
    by_testid(page, "dream-start").click()
    wait_for(page, "return document.querySelector('[data-testid=dream-image]').dataset.done")
    start, distinct = page.execute_script(
        "const d = document.querySelector('[data-testid=dream-image]').dataset;"
        "return [d.start, +d.distinct]")
    assert start == "image" and distinct >= 2

    by_testid(page, "dream-from-black").click()
    assert by_testid(page, "dream-start").text == "Dream a 3"
    by_testid(page, "dream-start").click()
    wait_for(page, "return document.querySelector('[data-testid=dream-image]').dataset.done")
    start, frames, distinct = page.execute_script(
        "const d = document.querySelector('[data-testid=dream-image]').dataset;"
        "return [d.start, +d.frames, +d.distinct]")
    assert start == "black"
    assert frames >= 3 and distinct >= 3, (frames, distinct)  # the image changed as it streamed
    assert picture_ink(page, "dream-image") > 0.01
    assert int(text(page, "dream-step").split()[0]) <= 30
    assert count(page, "[data-testid=dream-film] figure") >= 3  # the filmstrip of the way
    gain = float(by_testid(page, "dream-image").get_attribute("data-gain"))
    contrast = float(by_testid(page, "dream-image").get_attribute("data-contrast-gain"))
    if contrast > 1:  # brought to full contrast at the end, and said so
        assert gain == 1 and "full contrast" in text(page, "dream-contrast")
    else:  # a faint dream is shown brighter, and said so
        assert (gain > 1) == ("brighter" in text(page, "dream-contrast"))


def test_nondigits_are_shown_against_real_digits(page):
    draw_seven(page)
    page.find_element("id", "tab-nondigit").click()
    wait_for(page, "return document.querySelectorAll('[data-testid=nondigit-probes] figure')"
                   ".length >= 2")
    assert count(page, "#nondigit-histogram rect") >= 10
    first = by_testid(page, "nondigit-probes").get_attribute("data-kind")
    by_testid(page, "nondigit-letters").click()
    wait_for(page, "return document.querySelector('[data-testid=nondigit-probes]').dataset.kind"
                   " !== arguments[0]", first)
    assert "letters" in text(page, "nondigit-note")
    by_testid(page, "nondigit-drawing").click()
    wait_for(page, "return document.querySelector('[data-testid=nondigit-summary]')"
                   ".textContent.includes('Your drawing')")
    assert count(page, "[data-testid=nondigit-probes] figure") == 1
    flag = text(page, "probe-flag")  # a drawn digit is never "fooled"; card and summary agree
    assert flag in ("passes as a digit", "flagged: not a digit"), flag
    assert (flag == "passes as a digit") == ("passes as a digit" in text(page, "nondigit-summary"))


# ----------------------------------------------------------------------------- screen sizes
TABS = ("draw", "models", "train", "quiz", "dream", "nondigit")


def _emulate(driver, width: int, height: int, touch: bool) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 2 if touch else 1, "mobile": touch})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled",
                           {"enabled": touch, "maxTouchPoints": 5 if touch else 1})


#: the screens every tab is shown on: (name, width, height, touch)
SCREENS = (("laptop", 1280, 800, False), ("tablet", 768, 1024, False),
           ("phone", 390, 844, True))

#: elements of the Draw tab that must be in view without scrolling, once a digit is drawn
ABOVE_THE_FOLD = ("prediction", "bars")


@pytest.fixture
def screen(page, lab):
    """The page at an emulated screen size: `screen(width, height, touch)` reloads it so."""
    def resize(width: int, height: int, touch: bool = False):
        _emulate(page, width, height, touch)
        page.get(lab.url + "/")
        wait_for(page, "return document.body.dataset.ready === '1'")
        return page

    yield resize
    page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    page.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})


def _accessibility_problems(driver) -> list[tuple[str, list]]:
    """What axe-core (the accessibility engine of browsers' developer tools) finds wrong with
    the page as shown: (rule, elements) for each violation, e.g. content outside the
    landmarks, a definition list holding other than dt/dd groups, text of too little contrast,
    a control without a name."""
    from axe_core_python.selenium import Axe

    found = Axe().run(driver)
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in found["violations"]]


#: whether each set of bars on Draw shows probabilities: [the network's, the second network's]
BARS_FILLED = ("return ['bars', 'compare-bars'].map((id) => [...document.getElementById(id)"
               ".querySelectorAll('.bar-value')].every((v) => v.textContent.trim() !== ''))")


def _every_tab_fits(driver, shots: Path, name: str, audit: bool = False) -> None:
    """Each tab shown in turn: the page never scrolls sideways; a screenshot of each; with
    ``audit``, no accessibility problem on any tab (every details open, the quiz answered)."""
    for tab in TABS:
        driver.find_element("id", f"tab-{tab}").click()
        wait_for(driver, f"return !document.querySelector('[data-testid=panel-{tab}]').hidden")
        if tab == "draw" and by_testid(driver, "compare-model").get_attribute("value"):
            wait_for(driver, f"return {BARS_FILLED.removeprefix('return ')}.every(Boolean)")
        if tab == "models":  # the curves of the network shown
            wait_for(driver, "return document.querySelector('#model-detail').dataset.shown")
        if tab == "quiz":  # the panel's first question
            wait_for(driver, "return document.querySelector('[data-testid=quiz-image]')"
                             ".dataset.index || !document.querySelector('#quiz-error').hidden")
        if tab == "nondigit":  # its first probes
            wait_for(driver, "return document.querySelectorAll("
                             "'[data-testid=nondigit-probes] figure').length")
        if tab == "quiz" and audit:  # its answer revealed
            by_testid(driver, "quiz-guess-3").click()
            wait_for(driver, "return !document.querySelector('[data-testid=quiz-reveal]').hidden")
        wide = driver.execute_script(
            "return [document.documentElement.scrollWidth, innerWidth]")
        driver.save_screenshot(str(shots / f"{name}-{tab}.png"))
        assert wide[0] <= wide[1], (name, tab, wide)  # no sideways scrolling of the page
        if audit:
            driver.execute_script("document.querySelectorAll('details')"
                                  ".forEach((d) => { d.open = true; })")
            assert _accessibility_problems(driver) == [], (name, tab)
    driver.find_element("id", "tab-draw").click()


#: the selected option of a <select>, measured in the select's own font, against the room
#: the select gives it (its width less padding and the arrow): what is cut off, if anything
SELECT_CUTS = """
const select = arguments[0];
const style = getComputedStyle(select);
const context = document.createElement('canvas').getContext('2d');
context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
const label = select.options[select.selectedIndex]?.textContent || '';
const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
  - 20;  // the arrow
return context.measureText(label).width > room ? [label, room] : null;
"""


def test_every_tab_fits_a_laptop_a_tablet_and_a_phone(screen, tmp_path):
    """At 1280×800, 768×1024 and 390×844 (touch): every tab without sideways scrolling (a
    screenshot of each in the test's folder), the answer and its bars in view on Draw without
    scrolling, nothing cut in the network choosers; no accessibility problem axe-core finds on
    any tab (on the laptop); no console errors (the fixture)."""
    for name, width, height, touch in SCREENS:
        page = screen(width, height, touch)
        draw_seven_at_once(page)
        below = page.execute_script(  # the answer and all ten bars above the fold
            "return arguments[0].map((id) => document.querySelector("
            "`[data-testid=${id}]`).getBoundingClientRect().bottom - innerHeight)",
            ABOVE_THE_FOLD)
        assert max(below) <= 0, (name, below)
        for chooser in ("active-model", "compare-model"):
            assert page.execute_script(SELECT_CUTS, by_testid(page, chooser)) is None, \
                (name, chooser)
        if name == "phone":
            tabs = page.execute_script(  # every tab on the screen (they wrap), none cut off
                "return [...document.querySelectorAll('[role=tab]')].map((t) => {"
                "const r = t.getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth;"
                "})")
            assert all(tabs), tabs
            assert not by_testid(page, "keyboard-hint").is_displayed()  # no keys to press
        if name == "tablet":  # the answer card: no slivers side by side, the name not cut
            compare, bars, name_right, card_right = page.execute_script(
                "const q = (s) => document.querySelector(s);"
                "return [q('.compare-col').getBoundingClientRect().width,"
                "        q('[data-testid=bars]').getBoundingClientRect().width,"
                "        q('#draw-model-name').getBoundingClientRect().right,"
                "        q('.answer-card').getBoundingClientRect().right]")
            assert compare >= 250 and bars >= 250, (compare, bars)
            assert name_right <= card_right, (name_right, card_right)
        if name == "laptop":  # with a single network no second chooser, but a note in full
            page.execute_script("const lab = window.digitlab.lab;"
                                "lab.models = lab.models.filter((m) => m.id === lab.active);"
                                "lab.emit('models');")
            assert not by_testid(page, "compare-model").is_displayed()
            assert page.find_element("id", "compare-note").text.startswith("Train a second")
            page.save_screenshot(str(tmp_path / "laptop-draw-one-network.png"))
            page.execute_script("window.digitlab.lab.refreshModels()")
            wait_for(page, "return document.querySelector('[data-testid=compare-model]')"
                           ".options.length > 1")
            # the second network chosen again by itself: the drawing is asked of it too
            wait_for(page, f"return {BARS_FILLED.removeprefix('return ')}.every(Boolean)")
        _every_tab_fits(page, tmp_path, name, audit=name == "laptop")


# ----------------------------------------------------------------------------- live answers
LONG_STROKE = """
const done = arguments[arguments.length - 1];
const canvas = document.querySelector('[data-testid=draw-canvas]');
const prediction = document.querySelector('[data-testid=prediction]');
const box = canvas.getBoundingClientRect();
let inFlight = 0, most = 0;
const fetch0 = window.fetch;
window.fetch = async (...args) => {
  const predict = String(args[0]).startsWith('/api/predict');
  if (predict) { inFlight += 1; most = Math.max(most, inFlight); }
  try { return await fetch0(...args); } finally { if (predict) inFlight -= 1; }
};
const at = (t, type) => {  // a slow zigzag over the sheet, t in [0, 1]
  const x = 0.25 + 0.5 * Math.abs(((t * 6) % 2) - 1), y = 0.2 + 0.6 * t;
  canvas.dispatchEvent(new PointerEvent(type, {pointerId: 7, pointerType: 'pen', isPrimary: true,
    bubbles: true, cancelable: true, button: 0, buttons: type === 'pointerup' ? 0 : 1,
    clientX: box.left + x * box.width, clientY: box.top + y * box.height}));
};
const answers = () => Number(prediction.dataset.answers || 0);
const before = answers();
const start = performance.now(), length = arguments[0];
at(0, 'pointerdown');
const timer = setInterval(() => {
  const t = (performance.now() - start) / length;
  if (t < 1) { at(t, 'pointermove'); return; }
  clearInterval(timer);
  const whileDrawing = answers() - before;
  at(1, 'pointerup');
  window.fetch = fetch0;
  done([whileDrawing, most]);
}, 16);
"""


def test_answers_follow_a_moving_pen_one_question_at_a_time(page):
    page.execute_script("""
        const compare = document.querySelector('[data-testid=compare-model]');
        compare.value = ''; compare.dispatchEvent(new Event('change'));""")
    answered, most_in_flight = page.execute_async_script(LONG_STROKE, 2500)
    assert answered >= 5, answered  # the answer changed while the pen was still down
    assert most_in_flight == 1  # never two questions on their way at once
    wait_for(page, "return document.querySelector('[data-testid=prediction]').dataset.version"
                   " === document.querySelector('[data-testid=draw-canvas]').dataset.version")


# ----------------------------------------------------------------------------- per tab
def test_two_browser_tabs_keep_their_own_networks(page, lab):
    first = page.current_window_handle
    page.switch_to.new_window("tab")
    try:
        page.get(lab.url + "/")
        wait_for(page, "return document.body.dataset.ready === '1'")
        page.execute_script("const s = document.querySelector('[data-testid=active-model]');"
                            "s.value = 'tiny-copy'; s.dispatchEvent(new Event('change'));")
        wait_for(page, "return window.digitlab.lab.active === 'tiny-copy'")
        assert _get(lab.url + "/api/models")["active"] == "tiny-copy"  # the next tab's start
    finally:
        page.close()
        page.switch_to.window(first)
    page.execute_async_script(  # what the first tab does when it is looked at again
        "window.digitlab.lab.refreshModels().then(arguments[arguments.length - 1])")
    assert page.execute_script("return window.digitlab.lab.active") == "tiny"
    draw_seven(page)
    assert by_testid(page, "prediction").get_attribute("data-model") == "tiny"


# ----------------------------------------------------------------------------- charts
def test_an_accuracy_chart_with_one_running_point_stays_in_range(page):
    labels, dots = page.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('/js/charts.js').then(({ lineChart }) => {
          const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
          lineChart(svg, [{ name: 'running', color: '#999', dots: false, points: [[0.3, 0.75]] }],
                    { xMin: 0, xMax: 2, yLimits: [0, 1],
                      yFormat: (v) => `${Math.round(v * 100)}` });
          const ticks = svg.querySelectorAll('.chart-grid text[text-anchor=end]');  // the y axis
          done([[...ticks].map((t) => t.textContent), svg.querySelectorAll('circle').length]);
        });""")
    ticks = [float(t) for t in labels if t.replace(".", "").isdigit()]
    assert ticks and min(ticks) >= 0 and max(ticks) <= 100 and max(ticks) - min(ticks) <= 30, labels
    assert dots == 1  # the lone point is drawn


# ----------------------------------------------------------------------------- no network yet
SILENT_EVENTS = """
window.EventSource = class {  // a training stream that stays silent (kernels compiling)
  constructor() { this.readyState = 1; }
  addEventListener() {}
  close() { this.readyState = 2; }
};"""


def test_without_a_network_every_panel_says_what_to_do(browser, tmp_path):
    empty = Lab(tmp_path / "runs")
    try:
        browser.get(empty.url + "/#quiz")
        wait_for(browser, "return document.body.dataset.ready === '1'")
        wait_for(browser, "return !document.querySelector('#quiz-error').hidden")
        assert "train one first" in browser.find_element("id", "quiz-error").text
        assert by_testid(browser, "quiz-guess-3").get_attribute("disabled") is not None
        browser.find_element("id", "tab-nondigit").click()
        wait_for(browser, "return document.querySelectorAll('#nondigit-kinds button').length")
        by_testid(browser, "nondigit-letters").click()
        wait_for(browser, "return !document.querySelector('[data-testid=nondigit-error]').hidden")
        assert "train one first" in text(browser, "nondigit-error")
        browser.find_element("id", "tab-dream").click()
        by_testid(browser, "dream-start").click()
        wait_for(browser, "return !document.querySelector('[data-testid=dream-error]').hidden")
        assert "train one first" in text(browser, "dream-error")
        assert "/api/" not in text(browser, "dream-error")  # words for a person, not an API hint
        assert not browser.find_element("id", "dream-title").text.startswith("Dreaming")

        # the first training: while no progress comes (kernels compiling), the page says so
        browser.execute_script(SILENT_EVENTS)
        by_testid(browser, "empty-train").click()
        wait_for(browser, "return document.querySelector('[data-testid=train-state]')"
                          ".dataset.compiling === '1'", timeout=10)
        assert "preparing the compiled kernels (first time only" in text(browser, "train-state")
        assert "compiled kernels" in browser.find_element("id", "empty-status").text
        assert _post(empty.url + "/api/train/cancel", {})[0] == 200
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        empty.stop()


def test_probabilities_and_loss_names_read_the_same_everywhere(page):
    shown = page.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all([import('/js/charts.js'), import('/js/state.js')]).then(([c, s]) => {
          const box = document.createElement('div');
          box.innerHTML = '<span data-loss-text="running"></span><span data-loss-text="mean">'
            + '</span>';
          const texts = () => [...box.children].map((span) => span.textContent);
          s.nameLoss(box, 'ce');
          const ce = texts();
          s.nameLoss(box, 'mse');
          done([[0.9996, 1, 0.996, 0.5].map(c.chance), ce, texts()]);
        });""")
    nbsp = "\u00a0"
    assert shown[0] == [f">{nbsp}99.9{nbsp}%", f"100{nbsp}%", f"99.6{nbsp}%", f"50{nbsp}%"]
    assert shown[1:] == [["running loss", "Mean cross-entropy loss per epoch"],
                         ["running E", "Mean error E per epoch"]]


def test_a_reload_during_training_keeps_the_curve_and_the_settings(page, lab):
    status, _ = _post(lab.url + "/api/train", {"hidden": [8], "epochs": 50, "batch_size": 32,
                                               "name": "reloaded", "trace_every": 500})
    assert status == 202
    try:
        seen = wait_for(page, "return fetch('/api/train').then((r) => r.json())"
                              ".then((s) => s.trace.length >= 5 && s.trace.length)", timeout=40)
        page.get(lab.url + "/#train")
        page.refresh()  # a reload, not a move to another part of the same page
        wait_for(page, "return document.body.dataset.ready === '1'")
        points = page.execute_script(  # at once: the curve so far, not only what comes next
            "const p = document.querySelector('#train-accuracy-chart path');"
            "return p ? p.getAttribute('d').split('L').length : 0")
        assert points >= seen, (points, seen)
        assert by_testid(page, "train-hidden").get_attribute("value") == "8"
        assert by_testid(page, "train-batch").get_attribute("value") == "32"
    finally:
        _post(lab.url + "/api/train/cancel", {})
        deadline = time.monotonic() + WAIT_S
        while _get(lab.url + "/api/train")["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.2)


def test_your_own_digits_are_kept_and_evaluated_here_and_from_the_cli(page, lab):
    draw_seven(page)
    page.find_element("css selector", "#mine summary").click()
    by_testid(page, "mine-label-7").click()
    wait_for(page, "return document.querySelector('[data-testid=mine-status]')"
                   ".textContent.startsWith('Kept as a 7')")
    kept = int(by_testid(page, "mine-count").get_attribute("data-count"))
    assert kept >= 1
    by_testid(page, "mine-accuracy").click()
    wait_for(page, "return document.querySelector('[data-testid=mine-result]').dataset.accuracy")
    assert f"of your {kept} digit" in text(page, "mine-result")
    assert "MNIST test digits" in text(page, "mine-result")
    result = CliRunner().invoke(cli, ["evaluate", str(lab.runs / "tiny"),
                                      "--data", str(lab.runs / "my-digits")])
    assert result.exit_code == 0, result.output
    assert f"of {kept} digit" in result.output

    for more in (1, 2):  # three sevens at least: one is kept aside to measure
        by_testid(page, "mine-label-7").click()
        wait_for(page, "return Number(document.querySelector('[data-testid=mine-count]')"
                       ".dataset.count) === arguments[0]", kept + more)
    by_testid(page, "mine-finetune").click()  # a copy taught on them; the Train tab follows
    wait_for(page, "return !document.querySelector('[data-testid=panel-train]').hidden")
    wait_for(page, "return document.querySelector('[data-testid=train-state]').dataset.state"
                   " === 'finished'", timeout=90)
    assert "held-out digit" in text(page, "train-state")
    assert by_testid(page, "train-use").get_attribute("data-model").startswith("tiny-mine")


# ----------------------------------------------------------------------------- languages
#: names that read the same in both languages: presets, datasets, activations, symbols
SAME_IN_BOTH = {"assignment", "report", "best", "robust", "honest", "sample", "tanh", "swish",
                "relu", "sigmoid", "softmax", "adam", "english", "tiny", "copy"}
WORD = r"[^\W\d_](?:[^\W\d_]|['-]){3,}"  # a word of four letters or more (as WORDS_SHOWN)


def _words_of_the_lab() -> tuple[set[str], set[str]]:
    """(English words, Slovenian words) of the `lab` catalog, each set without the words the
    other language uses too: seen on a page in the other language, they are left behind."""
    from babel.messages.pofile import read_po

    with open(catalog_path("sl", "lab", ".po"), "rb") as po:
        catalog = read_po(po, locale="sl")
    sides: tuple[set[str], set[str]] = (set(), set())
    for message in catalog:
        if not message.id:
            continue
        for side, texts in zip(sides, (message.id, message.string), strict=True):
            for text in [texts] if isinstance(texts, str) else texts:
                plain = re.sub(r"<[^>]*>|\{[^}]*\}|&\w+;", " ", text)  # no markup, placeholders
                side.update(word.lower() for word in re.findall(WORD, plain))
    english, slovene = sides
    return english - slovene - SAME_IN_BOTH, slovene - english - SAME_IN_BOTH


#: the words of `arguments[0]` that the page shows (visible text, labels, titles, hints)
WORDS_SHOWN = r"""
const words = new Set(arguments[0]);
document.querySelectorAll('details').forEach((d) => { d.open = true; });
const texts = [document.body.innerText, document.title];
for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
  for (const name of ['aria-label', 'title', 'placeholder']) {
    texts.push(el.getAttribute(name) || '');
  }
}
const found = new Set();
for (const text of texts) {
  for (const word of text.match(/\p{L}[\p{L}'-]{3,}/gu) || []) {
    if (words.has(word.toLowerCase())) found.add(word);
  }
}
return [...found];
"""

#: texts wider than the box they are written in (cut off or spilling over), outside the tables
#: that scroll sideways on purpose
SPILLING = """
const spilling = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const range = document.createRange();
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (!node.textContent.trim()) continue;
  if (parent.closest('.table-wrap, select, svg, .visually-hidden')) continue;
  let box = parent;
  while (box && getComputedStyle(box).display === 'inline') box = box.parentElement;
  const edge = box.getBoundingClientRect();
  if (!edge.width) continue;  // not shown
  range.selectNodeContents(node);
  if ([...range.getClientRects()].some((r) => r.right > edge.right + 1 || r.left < edge.left - 1)) {
    spilling.push(parent.textContent.trim().slice(0, 60));
  }
}
if (document.documentElement.scrollWidth > innerWidth) spilling.push('the page scrolls sideways');
return spilling;
"""


SCORE = ("const first = document.querySelector('[data-testid=quiz-score] div');"
         "return [first.querySelector('dt').textContent, first.querySelector('dd').textContent]")


def _show_every_tab(driver, check) -> dict[str, object]:
    """`check()` on every tab of the page, each with its content on show: {tab: result}."""
    found = {}
    for tab in TABS:
        driver.find_element("id", f"tab-{tab}").click()
        wait_for(driver, f"return !document.querySelector('[data-testid=panel-{tab}]').hidden")
        if tab == "models":
            wait_for(driver, "return document.querySelector('#model-detail').dataset.shown")
        if tab == "quiz":
            wait_for(driver, "return !document.querySelector('[data-testid=quiz-reveal]')"
                             ".hidden || document.querySelector('[data-testid=quiz-image]')"
                             ".dataset.index")
        if tab == "nondigit":  # the probes, and the kinds named by the server in this language
            wait_for(driver, "return document.querySelectorAll("
                             "'[data-testid=nondigit-probes] figure').length && document"
                             ".querySelector('#nondigit-kinds').dataset.language === "
                             "document.documentElement.lang")
        found[tab] = check()
    return found


def test_the_lab_speaks_slovenian_and_switches_language_without_losing_its_work(page, lab):
    english, slovene = _words_of_the_lab()
    assert {"network", "draw", "dream", "epoch"} <= english and {"mreža", "števke"} <= slovene
    agent = page.execute_script("return navigator.userAgent")
    page.delete_all_cookies()
    page.execute_cdp_cmd("Emulation.setUserAgentOverride",
                         {"userAgent": agent, "acceptLanguage": "sl-SI,sl;q=0.9,en;q=0.5"})
    try:
        page.get(lab.url + "/")  # the browser asks for Slovenian: the page is Slovenian
        wait_for(page, "return document.body.dataset.ready === '1'")
        assert page.execute_script("return [document.documentElement.lang, "
                                   "document.documentElement.className]") == ["sl", ""]
        assert page.execute_script("return window.digitlab.i18n.untranslated()") == []
        digit = draw_seven_at_once(page)
        assert digit.isdigit() and text(page, "prediction-calibration") == "ni kalibrirana"
        page.find_element("css selector", "#mine summary").click()
        by_testid(page, "mine-label-7").click()  # a server's answer, said in Slovenian
        wait_for(page, "return document.querySelector('[data-testid=mine-status]')"
                       ".textContent.startsWith('Shranjeno kot 7')")
        page.find_element("id", "tab-dream").click()
        page.execute_script("document.querySelector('[data-testid=dream-steps]').value = 0")
        by_testid(page, "dream-start").click()  # the server refuses it, in Slovenian
        wait_for(page, "return !document.querySelector('[data-testid=dream-error]').hidden")
        assert text(page, "dream-error") == "'steps' mora biti med 1 in 5000, dobljeno 0"
        logged = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
        assert all("422" in e["message"] for e in logged), logged  # the refused request alone
        page.execute_script("document.querySelector('[data-testid=dream-steps]').value = 20")
        by_testid(page, "dream-start").click()
        wait_for(page, "return document.querySelector('[data-testid=dream-image]').dataset.done")
        page.find_element("id", "tab-quiz").click()
        wait_for(page, "return document.querySelector('[data-testid=quiz-image]').dataset.index")
        by_testid(page, "quiz-guess-3").click()
        wait_for(page, "return !document.querySelector('[data-testid=quiz-reveal]').hidden")
        left = _show_every_tab(page, lambda: page.execute_script(WORDS_SHOWN, sorted(english)))
        assert not any(left.values()), left  # no English left on any tab

        # plural forms by the catalog's four Slovenian forms, numbers with a decimal comma
        shown = page.execute_script("""
            const i18n = window.digitlab.i18n;
            const kept = (n) => i18n.ngettext('{n} of your digits kept ({counts}).',
              '{n} of your digits kept ({counts}).', n, {counts: '…'});
            return [[1, 2, 3, 4, 5, 11, 101, 102].map(kept), i18n.percent(0.987, 1),
                    i18n.number(12345.6, 1),
                    Array.from({length: 250}, (_, n) => i18n.PLURAL_RULES.sl(n))];""")
        assert shown[0] == [
            "Shranjena je 1 tvoja števka (…).", "Shranjeni sta 2 tvoji števki (…).",
            "Shranjene so 3 tvoje števke (…).", "Shranjene so 4 tvoje števke (…).",
            "Shranjenih je 5 tvojih števk (…).", "Shranjenih je 11 tvojih števk (…).",
            "Shranjena je 101 tvoja števka (…).", "Shranjeni sta 102 tvoji števki (…)."]
        assert shown[1:3] == ["98,7\u00a0%", "12.345,6"]
        rule = gettext.c2py(PLURAL_FORMS["sl"].split("plural=")[1].rstrip(";"))
        assert shown[3] == [rule(n) for n in range(250)]  # the same rule as gettext's

        # the switch: English at once on every tab, the drawing and the answers kept
        by_testid(page, "language-en").click()
        wait_for(page, "return document.documentElement.lang === 'en'")
        assert page.get_cookie("digitlab_lang")["value"] == "en"
        assert text(page, "prediction") == digit and text(page, "prediction-calibration") == \
            "not calibrated"
        assert page.execute_script("return window.digitlab.pad.isEmpty") is False
        left = _show_every_tab(page, lambda: page.execute_script(WORDS_SHOWN, sorted(slovene)))
        assert not any(left.values()), left  # no Slovenian left on any tab
        assert page.execute_script(SCORE) == ["digits shown", "1"]  # the quiz's score is kept
        by_testid(page, "language-sl").click()
        wait_for(page, "return document.documentElement.lang === 'sl'")
        assert page.find_element("id", "tab-draw").text == "Riši"
        assert text(page, "prediction") == digit
        assert page.execute_script(SCORE) == ["prikazane števke", "1"]

        # the longer Slovenian words fit on a phone and on a laptop: nothing cut or spilling
        for width, height in ((390, 844), (1280, 800)):
            _emulate(page, width, height, touch=False)
            spilling = _show_every_tab(page, lambda: page.execute_script(SPILLING))
            assert not any(spilling.values()), (width, spilling)
    finally:
        page.delete_all_cookies()
        page.execute_cdp_cmd("Emulation.setUserAgentOverride",
                             {"userAgent": agent, "acceptLanguage": "en-US,en"})
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        page.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})
