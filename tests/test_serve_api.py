"""``digitlab serve`` over HTTP: the contract of docs/serve-api.md and every safety case.

Tiny networks are trained here in seconds; most requests go through FastAPI's TestClient, the
streams that must notice a departing client through a real uvicorn server on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from digitlab.cli import main  # noqa: E402
from digitlab.config import TrainConfig  # noqa: E402
from digitlab.data import load_run_dataset  # noqa: E402
from digitlab.images import load_digit_images  # noqa: E402
from digitlab.modelio import load_model, save_model  # noqa: E402
from digitlab.nn.network import MLP  # noqa: E402
from digitlab.serve import create_app, explain  # noqa: E402
from digitlab.serve.errors import ApiError  # noqa: E402
from digitlab.serve.safety import MAX_BODY_BYTES  # noqa: E402
from digitlab.training import train  # noqa: E402

PORT = 8000
BASE = f"http://127.0.0.1:{PORT}"
TINY = dict(hidden=[12], epochs=1, max_train_samples=400, batch_size=10, optimizer="adam",
            lr=0.003, seed=3)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A runs folder with a tanh run ``tiny`` and a softmax run ``lab/soft`` (seconds)."""
    folder = tmp_path_factory.mktemp("runs")
    train(TrainConfig(**TINY), run_dir=folder / "tiny", progress=False)
    train(TrainConfig(**{**TINY, "output_activation": "softmax", "loss": "ce"}),
          run_dir=folder / "lab" / "soft", progress=False)
    return folder


@pytest.fixture(scope="module")
def client(runs):
    with TestClient(create_app(runs, port=PORT), base_url=BASE) as test_client:
        yield test_client


def png_of_digit(kind: str = "one", size: int = 120, fmt: str = "PNG") -> bytes:
    """A dark digit drawn on white, as a person would upload it."""
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    if kind == "one":
        draw.line([(size // 2, size // 6), (size // 2, size * 5 // 6)], fill=0, width=size // 10)
    elif kind == "zero":
        draw.ellipse([size // 4, size // 6, size * 3 // 4, size * 5 // 6], outline=0,
                     width=size // 12)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def assert_error(response, status: int, *words: str) -> None:
    """A 4xx answer whose body is one JSON line {"error": ...} mentioning ``words``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"] and body["error"]
    assert "Traceback" not in response.text
    for word in words:
        assert word in body["error"], body["error"]


# ---------------------------------------------------------------------- models
def test_health_and_models_list_the_runs_by_id(client, runs):
    assert client.get("/api/health").json()["status"] == "ok"
    listing = client.get("/api/models").json()
    ids = sorted(m["id"] for m in listing["models"])
    assert ids == ["lab/soft", "tiny"]
    assert listing["active"] in ids
    tiny = next(m for m in listing["models"] if m["id"] == "tiny")
    assert tiny["sizes"] == [784, 12, 10] and tiny["parameters"] == 784 * 12 + 12 * 10
    assert tiny["training"] is False and 0 <= tiny["test_accuracy"] <= 1
    detail = client.get("/api/models/lab/soft").json()
    assert detail["config"]["loss"] == "ce" and detail["history"]["epoch"] == [1]
    assert client.post("/api/models/active", json={"id": "lab/soft"}).json() == \
        {"active": "lab/soft"}
    assert client.get("/api/models").json()["active"] == "lab/soft"


def test_runs_that_are_not_digit_readers_or_not_models_are_listed_as_unreadable(tmp_path):
    save_model(tmp_path / "wide" / "model.npz", MLP([100, 4, 10], ["tanh", "tanh"]))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.npz").write_bytes(b"PK not a zip")
    with TestClient(create_app(tmp_path, port=PORT), base_url=BASE) as fresh:
        listing = fresh.get("/api/models").json()
        assert listing["active"] is None and listing["models"] == []
        reasons = {u["id"]: u["error"] for u in listing["unreadable"]}
        assert set(reasons) == {"broken", "wide"}
        assert "not a valid zip" in reasons["broken"] and "784 inputs" in reasons["wide"]
        assert str(tmp_path) not in " ".join(reasons.values())  # no server paths leak
        assert_error(fresh.post("/api/predict-prepared", json={"image": [0.0] * 784}), 404,
                     "no model yet")


def nested_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def write_model_zip(path: Path, write_metadata) -> None:
    """A model.npz holding only the metadata.json that ``write_metadata(handle)`` writes."""
    import zipfile

    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("metadata.json", "w", force_zip64=True) as handle:
            write_metadata(handle)


def inflating_metadata(handle) -> None:
    """64 MB of metadata.json that deflate to about 64 kB."""
    handle.write(b'{"format": "digitlab-model", "padding": "')
    for _ in range(64):
        handle.write(b" " * (1 << 20))
    handle.write(b'"}')


@pytest.mark.parametrize("damage, words", [
    ("evaluation", ["evaluation.json", "nested 100,000 levels deep"]),
    ("metadata", ["metadata.json", "nested 100,000 levels deep"]),
    ("inflating", ["metadata.json is larger than"]),
])
def test_an_unreadable_run_is_listed_with_its_reason_and_the_others_still_answer(
        tmp_path, damage, words):
    good = MLP([784, 4, 10], ["tanh", "tanh"], rng=np.random.default_rng(0))
    save_model(tmp_path / "good" / "model.npz", good)
    bad = tmp_path / "bad" / "model.npz"
    if damage == "evaluation":
        save_model(bad, good)
        (bad.parent / "evaluation.json").write_bytes(nested_json(100_000))
    elif damage == "metadata":
        write_model_zip(bad, lambda handle: handle.write(nested_json(100_000)))
    else:
        write_model_zip(bad, inflating_metadata)
    with TestClient(create_app(tmp_path, port=PORT), base_url=BASE) as fresh:
        for _ in range(2):  # the first scan reads the files, the second its cache
            response = fresh.get("/api/models")
            assert response.status_code == 200, response.text
            listing = response.json()
            assert [m["id"] for m in listing["models"]] == ["good"]
            assert listing["active"] == "good"
            (unreadable,) = listing["unreadable"]
            assert unreadable["id"] == "bad" and "\n" not in unreadable["error"]
            for word in words:
                assert word in unreadable["error"], unreadable["error"]
        answer = fresh.post("/api/predict-prepared?model=good", json={"image": [0.0] * 784})
        assert answer.status_code == 200 and answer.json()["model"] == "good"
        assert_error(fresh.post("/api/predict-prepared?model=bad",
                                json={"image": [0.0] * 784}), 422, "cannot be read", words[0])
        assert_error(fresh.get("/api/models/bad"), 422, "cannot be read")


def test_the_page_is_served_at_the_root_with_protective_headers(client):
    response = client.get("/")
    assert response.status_code == 200 and "<html" in response.text.lower()
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    script = client.get("/js/lab.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")


# ---------------------------------------------------------------------- predict
@pytest.mark.parametrize("fmt, media", [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_predict_answers_as_digitlab_predict(client, runs, tmp_path, fmt, media):
    data = png_of_digit("zero", fmt=fmt)
    path = tmp_path / f"digit.{fmt.lower()}"
    path.write_bytes(data)
    expected_input = load_digit_images([path])  # what `digitlab predict` reads
    expected = load_model(runs / "tiny").network.probabilities(expected_input)[0]
    response = client.post("/api/predict?model=tiny", content=data,
                           headers={"Content-Type": media})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model"] == "tiny" and answer["digit"] == int(expected.argmax())
    np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-6)
    np.testing.assert_allclose(answer["prepared"], expected_input[0], rtol=1e-6)
    assert "saliency" not in answer


def test_predict_explained_and_prepared_agree(client):
    data = png_of_digit("one")
    explained = client.post("/api/predict?model=lab/soft&explain=1", content=data,
                            headers={"Content-Type": "image/png"}).json()
    assert len(explained["saliency"]) == 784 and len(explained["hidden"]) == 8
    contributions = [unit["contribution"] for unit in explained["hidden"]]
    assert contributions == sorted(contributions, reverse=True)
    assert all(len(unit["weights"]) == 784 for unit in explained["hidden"])
    again = client.post("/api/predict-prepared?model=lab/soft&explain=1",
                        json={"image": explained["prepared"]}).json()
    assert again["digit"] == explained["digit"]
    np.testing.assert_allclose(again["saliency"], explained["saliency"], rtol=1e-5, atol=1e-9)


def test_predict_with_layers_gives_every_hidden_output_and_the_answers_strongest_links(
        client, runs):
    image = client.post("/api/predict?model=tiny", content=png_of_digit("zero"),
                        headers={"Content-Type": "image/png"}).json()["prepared"]
    answer = client.post("/api/predict-prepared?model=tiny&layers=1",
                         json={"image": image}).json()
    network = load_model(runs / "tiny").network
    trace = network.forward(np.asarray(image, dtype=network.dtype).reshape(1, -1))
    assert [len(layer) for layer in answer["layers"]] == network.sizes[1:-1]
    for l, layer in enumerate(answer["layers"], start=1):
        np.testing.assert_allclose(layer, trace.ys[l][0], atol=6e-5)
    links = answer["links"]
    shares = [abs(link["contribution"]) for link in links]
    assert 0 < len(links) <= 16 and shares == sorted(shares, reverse=True)
    last = trace.ys[network.n_layers - 1][0]
    for link in links:  # a_j W_kj of the winning output k
        weight = network.weights[-1][answer["digit"], link["unit"]]
        assert link["weight"] == pytest.approx(weight, rel=1e-5)
        assert link["contribution"] == pytest.approx(last[link["unit"]] * weight, rel=1e-4,
                                                     abs=1e-7)
    assert "layers" not in client.post("/api/predict-prepared?model=tiny",
                                       json={"image": image}).json()
    assert_error(client.post("/api/predict-prepared?model=tiny&layers=2",
                             json={"image": image}), 422, "'layers'")


def test_a_model_trained_on_deskewed_digits_reads_them_deskewed(tmp_path):
    train(TrainConfig(**{**TINY, "deskew": True}), run_dir=tmp_path / "deskewed", progress=False)
    expected_model = load_model(tmp_path / "deskewed").model  # predict's reader
    with TestClient(create_app(tmp_path, port=PORT), base_url=BASE) as fresh:
        answer = fresh.post("/api/predict?model=deskewed&explain=1", content=png_of_digit("one"),
                            headers={"Content-Type": "image/png"}).json()
        expected = expected_model.probabilities(np.asarray([answer["prepared"]]))[0]
        np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-5, atol=1e-7)
        assert fresh.get("/api/quiz?model=deskewed").status_code == 200


@pytest.mark.parametrize("output, loss", [("tanh", "mse"), ("softmax", "ce")])
def test_saliency_is_the_gradient_of_log_p_checked_by_finite_differences(output, loss):
    network = MLP([784, 9, 10], ["tanh", output], dtype=np.float64,
                  rng=np.random.default_rng(1))
    x = np.random.default_rng(2).random(784) * 0.5
    answer = int(network.probabilities(x[None])[0].argmax())
    analytic = explain.saliency(network, x, answer)
    h = 1e-6
    for i in np.random.default_rng(3).choice(784, 12, replace=False):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        numeric = (np.log(network.probabilities(up[None])[0, answer])
                   - np.log(network.probabilities(down[None])[0, answer])) / (2 * h)
        assert analytic[i] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_hidden_contributions_of_one_hidden_layer_are_weight_times_activation():
    network = MLP([784, 20, 10], ["tanh", "tanh"], dtype=np.float64,
                  rng=np.random.default_rng(4))
    x = np.random.default_rng(5).random(784)
    units = explain.hidden_units(network, x, answer=3)
    h = np.tanh(network.weights[0] @ x)
    expected = network.weights[1][3] * h
    assert [u["unit"] for u in units] == list(np.argsort(-expected)[:8])
    for unit in units:
        assert unit["contribution"] == pytest.approx(expected[unit["unit"]])


# ---------------------------------------------------------------------- safety
@pytest.mark.parametrize("host", ["evil.example:8000", "evil.example", "127.0.0.1:9999",
                                  "localhost.evil.example:8000", ""])
def test_foreign_host_headers_are_refused(client, host):
    assert_error(client.get("/api/health", headers={"Host": host}), 400, "Host")


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "localhost"])
def test_local_host_headers_are_answered(client, host):
    assert client.get("/api/health", headers={"Host": host}).status_code == 200


def test_uploaded_images_are_decoded_two_at_a_time(monkeypatch):
    """A 200 kB PNG may decode to hundreds of MB: eight at once must not add up."""
    from digitlab.serve import inputs

    active, most, lock = 0, 0, threading.Lock()

    def slow_decode(body, name):
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return np.zeros(784, np.float32)

    monkeypatch.setattr(inputs, "load_digit_image_bytes", slow_decode)
    threads = [threading.Thread(target=inputs.prepare_uploaded_image, args=(b"",))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert most == inputs.MAX_DECODES


def test_refusals_from_the_outer_checks_carry_the_security_headers(client):
    """docs/serve-api.md promises the protective headers on every answer: the Host, Origin and
    size checks answer before the app, so they add them themselves."""
    big = b"\x89PNG\r\n\x1a\n" + b"0" * MAX_BODY_BYTES
    for response, status in (
            (client.get("/api/health", headers={"Host": "evil.example"}), 400),
            (client.post("/api/train/cancel", headers={"Origin": "http://evil.example"}), 403),
            (client.post("/api/predict", content=big, headers={"Content-Type": "image/png"}),
             413),
            (client.post("/api/predict-prepared", content=b"{", headers={
                "Content-Type": "application/json"}), 400)):
        assert response.status_code == status
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers.get_list("x-frame-options") == ["DENY"]  # once


def test_bodies_over_4_mb_get_413_announced_or_streamed(client):
    big = b"\x89PNG\r\n\x1a\n" + b"0" * MAX_BODY_BYTES
    assert_error(client.post("/api/predict", content=big,
                             headers={"Content-Type": "image/png"}), 413, "4 MB")

    def chunks():  # no Content-Length: counted while it streams in
        for _ in range(5):
            yield b"0" * (MAX_BODY_BYTES // 4)

    assert_error(client.post("/api/predict-prepared", content=chunks(),
                             headers={"Content-Type": "application/json"}), 413)


@pytest.mark.parametrize("body, media, status, words", [
    (b"GIF89a......", "image/png", 415, ("PNG",)),
    (b"hello", "text/plain", 415, ("Content-Type",)),
    (b"", "image/png", 400, ("empty",)),
    (b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, "image/png", 400, ("uploaded image",)),
    (b"\xff\xd8\xff" + b"\x13" * 300, "image/jpeg", 400, ("uploaded image",)),
])
def test_bad_images_get_one_line_4xx(client, body, media, status, words):
    assert_error(client.post("/api/predict?model=tiny", content=body,
                             headers={"Content-Type": media}), status, *words)


def test_a_blank_image_gets_422(client):
    blank = io.BytesIO()
    Image.new("L", (50, 50), 255).save(blank, "PNG")
    assert_error(client.post("/api/predict?model=tiny", content=blank.getvalue(),
                             headers={"Content-Type": "image/png"}), 422, "blank")


@pytest.mark.parametrize("method, url, body, status", [
    ("post", "/api/predict-prepared", b"{not json", 400),
    ("post", "/api/predict-prepared", b"[1, 2]", 422),
    ("post", "/api/predict-prepared", b"[" * 100_000 + b"]" * 100_000, 400),
    ("post", "/api/predict-prepared", b'{"image": "abc"}', 422),
    ("post", "/api/predict-prepared", b'{"image": [0.5]}', 422),
    ("post", "/api/predict-prepared", json.dumps({"image": [2.0] * 784}).encode(), 422),
    ("post", "/api/predict-prepared", json.dumps({"image": [None] * 784}).encode(), 422),
    ("post", "/api/predict-prepared?explain=yes",
     json.dumps({"image": [0.0] * 784}).encode(), 422),
    ("post", "/api/predict-prepared?explain=7",
     json.dumps({"image": [0.0] * 784}).encode(), 422),
    ("post", "/api/models/active", b'{"id": 5}', 422),
    ("post", "/api/models/active", b'{"id": "nope"}', 404),
    ("post", "/api/train", b'{"lr": "fast"}', 422),
    ("post", "/api/train", b'{"hidden": "wide"}', 422),
    ("post", "/api/train", b'{"epochs": -1}', 422),
    ("post", "/api/train", b'{"preset": "huge"}', 422),
    ("post", "/api/train", b'{"name": "../escape"}', 422),
    ("post", "/api/train", b'{"colour": "red"}', 422),
    ("post", "/api/dream", b'{"digit": 12}', 422),
    ("post", "/api/dream", b'{"digit": "3"}', 422),
    ("post", "/api/dream", b'{"digit": 3, "steps": 0}', 422),
    ("post", "/api/dream", b'{"digit": 3, "lr": -1}', 422),
    ("post", "/api/dream", b'{"digit": 3, "start": "image"}', 422),
    ("post", "/api/quiz/answer", b'{"model": "tiny", "index": 0, "guess": 11}', 422),
    ("post", "/api/quiz/answer", b'{"model": "tiny", "index": "first", "guess": 1}', 422),
    ("get", "/api/quiz?model=tiny&index=-1", None, 422),
    ("get", "/api/quiz?model=tiny&index=x", None, 422),
    ("get", "/api/nondigits/letters?model=tiny&n=100000", None, 422),
    ("get", "/api/nondigits/rockets?model=tiny", None, 404),
    ("post", "/api/ood", b'{"image": {}}', 422),
    ("post", "/api/train/cancel", None, 409),
    ("get", "/api/no-such-endpoint", None, 404),
])
def test_malformed_requests_get_one_line_4xx(client, method, url, body, status):
    sent = {"content": body, "headers": {"Content-Type": "application/json"}} if body else {}
    assert_error(getattr(client, method)(url, **sent), status)


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:9999", "null",
                                    "http://127.0.0.1:8000.evil.example"])
def test_posts_from_other_sites_are_refused(client, origin):
    """A page elsewhere can make the browser POST here; its Origin gives it away."""
    for url in ("/api/train", "/api/train/cancel", "/api/models/active"):
        assert_error(client.post(url, headers={"Origin": origin}), 403, "another site")
    assert client.get("/api/health", headers={"Origin": origin}).status_code == 200
    assert client.get("/api/train").json()["state"] == "idle"


def test_posts_from_the_page_itself_are_answered(client):
    for origin in (BASE, f"http://localhost:{PORT}"):
        answer = client.post("/api/predict-prepared?model=tiny", json={"image": [0.0] * 784},
                             headers={"Origin": origin})
        assert answer.status_code == 200


def test_json_bodies_must_be_declared_as_json(client):
    """A cross-site form can send text/plain but never application/json."""
    assert_error(client.post("/api/train", content=b'{"epochs": 1}',
                             headers={"Content-Type": "text/plain"}), 415, "application/json")
    assert client.get("/api/train").json()["state"] == "idle"


@pytest.mark.parametrize("model", ["nope", "../tiny", "/etc", "tiny/../../x", "C:\\runs"])
def test_unknown_model_ids_and_paths_get_404(client, model):
    assert_error(client.get("/api/quiz", params={"model": model}), 404, "unknown model")
    assert_error(client.post("/api/predict-prepared", params={"model": model},
                             json={"image": [0.0] * 784}), 404, "unknown model")


def test_get_changes_nothing(client):
    before = client.get("/api/models").json()["active"]
    for url in ("/api/models/active", "/api/train/cancel", "/api/quiz/answer", "/api/dream"):
        assert client.get(url).status_code in (404, 405)
    assert client.get("/api/models").json()["active"] == before
    assert client.get("/api/train").json()["state"] == "idle"


def test_no_bad_request_reaches_the_generic_error_handler(client, caplog):
    """The requests above all get their 4xx on purpose: nothing was logged as unexpected."""
    client.post("/api/predict-prepared", content=b"\xff\xfe")
    client.post("/api/dream", json={"digit": 3, "steps": 10 ** 9})
    client.post("/api/train", json={"hidden": None, "epochs": True})
    assert not [r for r in caplog.records if r.name == "digitlab.serve"]


@pytest.mark.parametrize("path", ["/api/models/active", "/api/predict-prepared", "/api/train",
                                  "/api/quiz/answer", "/api/dream"])
def test_an_integer_of_5000_digits_is_a_400_naming_it_not_a_500(client, path):
    """Python refuses to convert integers of over 4,300 digits: the body reader refuses them
    first, at 100 digits, for every endpoint that reads JSON."""
    body = b'{"epochs": 1' + b"0" * 5_000 + b', "image": [0]}'
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert_error(response, 400, "a number of 5,001 digits", "at most 100")
    assert_error(client.post(path, content=b'{"seed": ' + b"9" * 101 + b"}",
                             headers={"content-type": "application/json"}), 400, "101 digits")


# ---------------------------------------------------------------------- quiz, probes
def test_quiz_shows_the_most_confident_mistakes_without_labels(client, runs):
    question = client.get("/api/quiz?model=tiny&index=0").json()
    saved = load_model(runs / "tiny")
    test = load_run_dataset(saved.config, require=("test",)).test
    probabilities = saved.network.probabilities(test.images)
    wrong = probabilities.argmax(axis=1) != test.labels
    assert question["count"] == int(wrong.sum()) > 0 and "label" not in json.dumps(question)
    most_confident = np.flatnonzero(wrong)[np.argmax(probabilities[wrong].max(axis=1))]
    np.testing.assert_allclose(question["image"], test.images[most_confident], atol=1e-7)
    network_answer = int(probabilities[most_confident].argmax())
    reply = client.post("/api/quiz/answer", json={"model": "tiny", "index": 0,
                                                  "guess": network_answer}).json()
    assert reply["true_label"] == int(test.labels[most_confident])
    assert reply["network_answer"] == network_answer and reply["same_mistake"] is True
    assert reply["network_right"] is False and reply["person_right"] is False
    wrapped = client.get(f"/api/quiz?model=tiny&index={question['count']}").json()
    assert wrapped["index"] == 0


def test_nondigit_probes_carry_the_real_digit_reference(client):
    kinds = [k["name"] for k in client.get("/api/nondigits").json()["kinds"]]
    assert {"uniform_noise", "letters", "rotated_180"} <= set(kinds)
    probe = client.get("/api/nondigits/letters?model=tiny&n=3&seed=1").json()
    assert len(probe["images"]) == len(probe["answers"]) == 3
    for answer in probe["answers"]:
        assert answer["score"] == pytest.approx(max(answer["probabilities"]))
    reference = probe["reference"]
    scores = np.asarray(reference["real_digit_scores"])
    assert np.all(np.diff(scores) >= 0) and scores.min() <= reference["threshold"] <= scores.max()
    again = client.get("/api/nondigits/letters?model=tiny&n=3&seed=1").json()
    assert again["images"] == probe["images"]  # seeded
    black = client.post("/api/ood?model=tiny", json={"image": [0.0] * 784}).json()
    top = client.post("/api/ood?model=tiny", json={"image": probe["images"][0]}).json()
    for result in (black, top):
        assert 0.0 <= result["percentile"] <= 100.0
        assert result["score"] == pytest.approx(max(result["probabilities"]))


# ---------------------------------------------------------------------- dreams
def test_a_dream_streams_its_steps(client):
    with client.stream("POST", "/api/dream", json={"model": "lab/soft", "digit": 4,
                                                   "steps": 30}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    steps, done = lines[:-1], lines[-1]
    assert done["done"] is True and len(done["image"]) == 784 and done["steps"] <= 30
    assert len(steps) >= 2 and [s["step"] for s in steps] == sorted(s["step"] for s in steps)
    assert all(len(s["image"]) == 784 and 0 <= s["probability"] <= 1 for s in steps)


def test_turn_my_drawing_into_another_digit(client):
    drawing = client.post("/api/predict?model=lab/soft", content=png_of_digit("one"),
                          headers={"Content-Type": "image/png"}).json()["prepared"]
    target = 8
    with client.stream("POST", "/api/dream", json={"model": "lab/soft", "digit": target,
                                                   "start": "image", "image": drawing,
                                                   "steps": 40}) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert lines[-1]["done"] is True
    start_p = client.post("/api/predict-prepared?model=lab/soft",
                          json={"image": drawing}).json()["probabilities"][target]
    assert lines[-1]["probability"] > start_p


def strict_json(line: str):
    """``line`` as JSON as a browser reads it: NaN and Infinity are not JSON."""
    def refuse(constant):
        raise AssertionError(f"{constant} in a streamed line: {line[:200]}")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize("options", [{}, {"start": "noise"}, {"normalize": False, "clip": False}],
                         ids=["black", "noise", "plain"])
def test_a_diverging_dream_ends_with_an_error_line_never_nan(client, options):
    body = {"model": "lab/soft", "digit": 4, "steps": 30, "lr": 1e308, **options}
    with client.stream("POST", "/api/dream", json=body) as response:
        assert response.status_code == 200
        lines = [strict_json(line) for line in response.iter_lines() if line]
    done = lines[-1]
    assert done["done"] is True
    if "error" in done or "clip" in options:  # unclipped, the image itself overflows
        assert set(done) == {"done", "error"}, done
        assert "diverged" in done["error"] and "smaller lr" in done["error"]
        assert "\n" not in done["error"]
    else:  # clipped to [0, 1] after each step, it may stay finite
        assert 0.0 <= done["probability"] <= 1.0


# ---------------------------------------------------------------------- a real server
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def live(runs):
    """A real uvicorn server on 127.0.0.1 in a thread; its base URL."""
    import uvicorn

    port = free_port()
    app = create_app(runs, port=port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive()


def dream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dream"]


def test_a_client_that_leaves_a_dream_stops_it(live):
    import httpx

    url, _ = live
    with httpx.Client(base_url=url, timeout=10) as http:
        # no stopping tolerance: the dream would run all 5000 steps if nobody left
        body = {"model": "tiny", "digit": 2, "steps": 5000, "stop_probability": None,
                "stop_loss": None}
        with http.stream("POST", "/api/dream", json=body) as response:
            assert response.status_code == 200
            first = json.loads(next(response.iter_lines()))
            assert first["step"] >= 1 and dream_threads()
        # the stream is closed: the dream stops within moments, the server keeps answering
        deadline = time.monotonic() + 5
        while dream_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not dream_threads()
        assert http.get("/api/health").json()["status"] == "ok"


def test_training_runs_in_a_process_streams_progress_and_leaves_a_run(live, runs):
    import httpx

    url, app = live
    settings = {"name": "from-page", "hidden": [10], "epochs": 2, "batch_size": 20,
                "max_train_samples": 600, "optimizer": "adam", "lr": 0.003, "trace_every": 200}
    with httpx.Client(base_url=url, timeout=30) as http:
        started = http.post("/api/train", json=settings)
        assert started.status_code == 202, started.text
        assert started.json()["model"] == "from-page"
        assert_error(http.post("/api/train", json=settings), 409, "already running")
        assert http.get("/api/health").json()["training"] is True
        events = []
        with http.stream("GET", "/api/train/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            name = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line[len("event: "):]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[len("data: "):])))
                    if name == "done":
                        break
        names = [n for n, _ in events]
        assert names.count("epoch") == 2 and names[-1] == "done" and "progress" in names
        assert events[-1][1]["state"] == "finished", events[-1]
        # a late client first receives the epochs so far
        with http.stream("GET", "/api/train/events") as stream:
            late = [line for line in stream.iter_lines() if line.startswith("event: ")]
        assert late.count("event: epoch") == 2 and late[-1] == "event: done"
        status = http.get("/api/train").json()
        assert status["state"] == "finished" and status["epoch"] == 2
        # what a page reloaded during the training needs: its settings and running curve
        assert status["settings"]["hidden"] == [10] and status["settings"]["optimizer"] == "adam"
        assert status["settings"]["name"] == "from-page" and status["settings"]["epochs"] == 2
        trace = status["trace"]
        assert trace and all(len(point) == 3 for point in trace), trace
        assert [p[0] for p in trace] == sorted(p[0] for p in trace) and trace[-1][0] <= 2
        listed = {m["id"] for m in http.get("/api/models").json()["models"]}
        assert "from-page" in listed
    run = runs / "from-page"
    for name in ("model.npz", "config.json", "history.json", "curves.png", "evaluation.json"):
        assert (run / name).is_file(), name
    main(["evaluate", str(run)])  # an ordinary run folder


def test_cancel_keeps_the_last_completed_epoch_for_resume(live, runs):
    import httpx

    url, app = live
    settings = {"name": "cancelled", "hidden": [10], "epochs": 200, "batch_size": 20,
                "max_train_samples": 400, "optimizer": "adam", "lr": 0.003}
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/api/train", json=settings).status_code == 202
        deadline = time.monotonic() + 20
        while http.get("/api/train").json()["epoch"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http.post("/api/train/cancel").json() == {"state": "cancelled"}
        while http.get("/api/train").json()["state"] == "running" and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        status = http.get("/api/train").json()
    assert status["state"] == "cancelled", status
    assert not app.state.jobs.job.process.is_alive()
    saved = load_model(runs / "cancelled")
    done = saved.metadata["epoch"]
    assert 1 <= done < 200
    main(["train", "--resume", str(runs / "cancelled"), "--epochs", str(done + 1), "--quiet"])
    assert load_model(runs / "cancelled").metadata["epoch"] == done + 1


def test_stopping_the_server_stops_its_training(tmp_path):
    app = create_app(tmp_path, port=PORT)
    with TestClient(app, base_url=BASE) as fresh:
        assert fresh.post("/api/train", json={"epochs": 500, "hidden": [8],
                                              "max_train_samples": 300}).status_code == 202
        process = app.state.jobs.job.process
        assert process.is_alive()
    process.join(timeout=15)  # the server's shutdown has interrupted it already
    assert not process.is_alive()


# ---------------------------------------------------------------------- the command
def test_serve_prints_the_url_and_warns_about_a_non_local_host(monkeypatch, capsys, tmp_path):
    import uvicorn

    import digitlab.cli.serve as serve_module

    ran = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: ran.append(sockets))
    bound = []

    def bind_locally(host, port):  # never bind a public address in a test
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        bound.append(listener.getsockname()[1])
        return listener

    monkeypatch.setattr(serve_module, "_bind", bind_locally)
    main(["serve", "--runs", str(tmp_path), "--host", "0.0.0.0", "--port", "0", "--no-open"])
    captured = capsys.readouterr()
    assert "warning" in captured.err and "0.0.0.0" in captured.err
    assert f"http://127.0.0.1:{bound[0]}/" in captured.out and ran
    main(["serve", "--runs", str(tmp_path), "--port", "0", "--no-open"])
    assert "warning" not in capsys.readouterr().err


def test_the_listening_socket_is_tcp_so_connections_get_no_delay():
    """asyncio sets TCP_NODELAY only on sockets whose proto is TCP; without it every keep-alive
    answer waited for the client's delayed ACK."""
    from digitlab.cli.serve import _bind

    listener = _bind("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
    finally:
        listener.close()


def test_dreams_beyond_the_servers_slots_are_refused_until_one_ends(live, monkeypatch):
    import httpx

    from digitlab.serve import dreams

    url, app = live
    slots = dreams.DreamSlots(limit=1)
    monkeypatch.setattr(app.state, "dream_slots", slots)
    body = {"model": "tiny", "digit": 2, "steps": 20}
    with httpx.Client(base_url=url, timeout=10) as http:
        held = slots.take()  # a dream running elsewhere
        assert_error(http.post("/api/dream", json=body), 429, "busy", "dream")
        held()
        for _ in range(3):  # each dream gives its slot back when it ends
            with http.stream("POST", "/api/dream", json=body) as response:
                assert response.status_code == 200
                assert json.loads(list(response.iter_lines())[-1])["done"] is True
            deadline = time.monotonic() + 5
            while dream_threads() and time.monotonic() < deadline:
                time.sleep(0.05)
        bad = http.post("/api/dream", json={**body, "model": "no-such-run"})
        assert bad.status_code == 404  # a refused request gives its slot back at once
        slots.take()()  # free: nothing holds it


def test_a_dream_slot_is_given_back_once_however_often_it_is_returned():
    from digitlab.serve import dreams

    slots = dreams.DreamSlots(limit=2)
    first = slots.take()
    second = slots.take()
    with pytest.raises(ApiError) as refused:
        slots.take()
    assert refused.value.status == 429
    first()
    first()  # twice: still one slot
    third = slots.take()
    with pytest.raises(ApiError):
        slots.take()
    second()
    third()
    slots.take()
    slots.take()


# ---------------------------------------------------------------------- your own digits
def test_my_digits_are_kept_as_an_idx_dataset_that_evaluate_reads(tmp_path, capsys):
    from digitlab.data.idx import read_idx

    train(TrainConfig(**TINY), run_dir=tmp_path / "tiny", progress=False)
    test = load_run_dataset(load_model(tmp_path / "tiny").config).test
    with TestClient(create_app(tmp_path, port=PORT), base_url=BASE) as fresh:
        assert fresh.get("/api/my-digits").json()["count"] == 0
        assert fresh.get("/api/my-digits/accuracy?model=tiny").json()["accuracy"] is None
        for image, label in zip(test.images[:6], test.labels[:6], strict=True):
            kept = fresh.post("/api/my-digits", json={"image": image.tolist(),
                                                       "label": int(label)})
            assert kept.status_code == 200, kept.text
        summary = kept.json()
        assert summary["count"] == 6 and sum(summary["per_digit"]) == 6
        assert summary["per_digit"][int(test.labels[0])] >= 1
        assert_error(fresh.post("/api/my-digits", json={"image": test.images[0].tolist(),
                                                         "label": 10}), 422, "'label'")
        assert_error(fresh.post("/api/my-digits", json={"image": [0.5] * 10, "label": 1}), 422)
        assert fresh.get("/api/models").json()["unreadable"] == []  # not mistaken for a run
        accuracy = fresh.get("/api/my-digits/accuracy?model=tiny").json()
    folder = tmp_path / "my-digits"
    images = read_idx(folder / "t10k-images-idx3-ubyte")
    labels = read_idx(folder / "t10k-labels-idx1-ubyte")
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, test.labels[:6])
    np.testing.assert_allclose(images.reshape(6, -1) / 255, test.images[:6], atol=0.5 / 255 + 1e-6)
    network = load_model(tmp_path / "tiny").network
    expected = (network.probabilities(images.reshape(6, -1) / 255).argmax(axis=1) == labels)
    assert accuracy["count"] == 6 and accuracy["right"] == int(expected.sum())
    assert accuracy["test_accuracy"] is not None
    capsys.readouterr()
    main(["evaluate", str(tmp_path / "tiny"), "--data", str(folder)])  # an ordinary --data folder
    assert f"({int(expected.sum())} of 6 digits)" in capsys.readouterr().out


# ---------------------------------------------------------------------- ensembles
def test_an_ensemble_is_offered_like_a_run_and_reads_drawings(runs, tmp_path):
    from digitlab.ensembles import save_ensemble
    from digitlab.loading import load_any

    save_ensemble([runs / "tiny", runs / "lab" / "soft"], tmp_path / "pair")
    with TestClient(create_app(tmp_path, port=PORT), base_url=BASE) as fresh:
        listing = fresh.get("/api/models").json()
        assert listing["unreadable"] == []
        pair = next(m for m in listing["models"] if m["id"] == "pair")
        assert pair["members"] == 2 and pair["sizes"] == [784, 12, 10]
        assert pair["parameters"] == 2 * (784 * 12 + 12 * 10)
        answer = fresh.post("/api/predict?model=pair&explain=1&layers=1",
                            content=png_of_digit("zero"), headers={"Content-Type": "image/png"})
        assert answer.status_code == 200, answer.text
        answer = answer.json()
        expected = load_any(tmp_path / "pair").model.probabilities(
            np.asarray(answer["prepared"], np.float32).reshape(1, -1))[0]
        assert answer["digit"] == int(expected.argmax())
        np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-6)
        assert not {"saliency", "hidden", "layers", "links"} & set(answer)  # no one network
        assert fresh.get("/api/quiz?model=pair").status_code == 200
        assert_error(fresh.post("/api/dream", json={"model": "pair", "digit": 3}), 422,
                     "ensemble")
