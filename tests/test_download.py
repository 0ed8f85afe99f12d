"""Downloads against a local HTTP server: mirrors that fail, lie, break off; the cache.

Plain http is allowed here because the mirror URLs themselves are written ``http://127.0.0.1``
(the rule: a mirror is fetched with its own scheme, and https is never downgraded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from digitlab.data import download_dataset, load_dataset
from digitlab.data.catalog import SPECS, RemoteFile
from digitlab.data.download import NoDowngradeRedirectHandler, fetch_file, sha256_file
from digitlab.data.idx import encode_idx, gzip_deterministic
from digitlab.errors import DataError, DownloadError
from digitlab.runlock import LOCK_FILE


def fake_files(n=30, seed=0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": (np.arange(n) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.arange(10, dtype=np.uint8),
    }
    return {name: gzip_deterministic(encode_idx(a)) for name, a in arrays.items()}


def remote(name: str, data: bytes, *, size=True) -> RemoteFile:
    return RemoteFile(name, hashlib.sha256(data).hexdigest(), len(data) if size else None)


class Server:
    """A local HTTP server; ``routes[path] = (mode, body)`` with mode ok|truncate|redirect."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.hits.append(self.path)
                mode, body = server.routes.get(self.path, ("missing", b""))
                if mode == "missing":
                    self.send_error(404)
                elif mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", body.decode())
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if mode == "truncate":  # announce everything, send half, hang up
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                    else:
                        self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def mirror(self, prefix: str) -> str:
        return f"{self.base}/{prefix}/"

    def serve(self, prefix: str, files: dict[str, bytes], mode="ok") -> str:
        for name, body in files.items():
            self.routes[f"/{prefix}/{name}"] = (mode, body)
        return self.mirror(prefix)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture()
def refused_mirror() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connection refused
    return f"http://127.0.0.1:{port}/mnist/"


FILES = fake_files()
NAME = "train-labels-idx1-ubyte.gz"
DATA = FILES[NAME]


def listing(folder):
    """The files in ``folder``, without the (empty) file its lock is taken on."""
    return sorted(p.name for p in folder.iterdir() if p.name != LOCK_FILE) \
        if folder.exists() else []


def test_first_mirror_404_then_next_mirror(server, tmp_path):
    good = server.serve("good", {NAME: DATA})
    path = fetch_file(remote(NAME, DATA), tmp_path, [server.mirror("empty"), good], timeout=5)
    assert path.read_bytes() == DATA
    assert server.hits == [f"/empty/{NAME}", f"/good/{NAME}"]
    assert listing(tmp_path) == [NAME]


def test_connection_refused_then_next_mirror(server, refused_mirror, tmp_path):
    good = server.serve("good", {NAME: DATA})
    path = fetch_file(remote(NAME, DATA), tmp_path, [refused_mirror, good], timeout=5)
    assert sha256_file(path) == hashlib.sha256(DATA).hexdigest()


def test_corrupted_file_is_rejected_and_next_mirror_used(server, tmp_path):
    corrupt = bytearray(DATA)
    corrupt[len(corrupt) // 2] ^= 0x01
    bad = server.serve("bad", {NAME: bytes(corrupt)})
    good = server.serve("good", {NAME: DATA})
    path = fetch_file(remote(NAME, DATA), tmp_path, [bad, good], timeout=5)
    assert path.read_bytes() == DATA


def test_corrupted_file_alone_leaves_nothing_cached(server, tmp_path):
    corrupt = bytearray(DATA)
    corrupt[-20] ^= 0xFF
    bad = server.serve("bad", {NAME: bytes(corrupt)})
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        fetch_file(remote(NAME, DATA), tmp_path, [bad], timeout=5)
    assert listing(tmp_path) == []


def test_interrupted_transfer_leaves_no_partial_file(server, tmp_path):
    big = FILES["train-images-idx3-ubyte.gz"]
    cut = server.serve("cut", {"x.gz": big}, mode="truncate")
    with pytest.raises(DownloadError, match="x.gz"):
        fetch_file(remote("x.gz", big), tmp_path, [cut], timeout=5)
    assert listing(tmp_path) == []
    good = server.serve("good", {"x.gz": big})
    path = fetch_file(remote("x.gz", big), tmp_path, [cut, good], timeout=5)
    assert path.read_bytes() == big and listing(tmp_path) == ["x.gz"]


def test_wrong_announced_size_is_rejected(server, tmp_path):
    longer = server.serve("long", {NAME: DATA + b"\x00"})
    with pytest.raises(DownloadError, match="expected"):
        fetch_file(remote(NAME, DATA), tmp_path, [longer], timeout=5)
    assert listing(tmp_path) == []


def test_cached_file_with_wrong_hash_is_downloaded_again(server, tmp_path):
    good = server.serve("good", {NAME: DATA})
    (tmp_path / NAME).write_bytes(DATA[:-1])  # a stale, incomplete copy
    path = fetch_file(remote(NAME, DATA), tmp_path, [good], timeout=5)
    assert path.read_bytes() == DATA
    assert server.hits == [f"/good/{NAME}"]


def test_cached_file_with_right_hash_is_not_downloaded(server, tmp_path):
    (tmp_path / NAME).write_bytes(DATA)
    fetch_file(remote(NAME, DATA), tmp_path, [server.mirror("good")], timeout=5)
    assert server.hits == []


def test_http_redirect_within_http_is_followed(server, tmp_path):
    good = server.serve("good", {NAME: DATA})
    server.routes[f"/moved/{NAME}"] = ("redirect", (good + NAME).encode())
    path = fetch_file(remote(NAME, DATA), tmp_path, [server.mirror("moved")], timeout=5)
    assert path.read_bytes() == DATA


def test_redirect_from_https_to_http_is_refused():
    handler = NoDowngradeRedirectHandler()
    request = urllib.request.Request("https://example.org/mnist/a.gz")
    with pytest.raises(urllib.error.URLError, match="never downgraded"):
        handler.redirect_request(request, None, 302, "Found", {}, "http://example.org/a.gz")
    allowed = handler.redirect_request(request, None, 302, "Found", {},
                                       "https://mirror.example.org/a.gz")
    assert allowed.full_url == "https://mirror.example.org/a.gz"


def test_opener_that_ends_on_http_after_https_is_refused(server, tmp_path):
    """Even an injected opener that followed a downgrade itself cannot slip it through."""

    def downgrading_opener(url, timeout):
        response = urllib.request.urlopen(server.mirror("good") + NAME, timeout=timeout)
        assert url.startswith("https://")
        return response  # geturl() is http://127.0.0.1/...

    server.serve("good", {NAME: DATA})
    with pytest.raises(DownloadError, match="never downgraded"):
        fetch_file(remote(NAME, DATA), tmp_path, ["https://mirror.invalid/mnist"],
                   opener=downgrading_opener, timeout=5)
    assert listing(tmp_path) == []


def test_non_web_scheme_is_refused(tmp_path):
    with pytest.raises(DownloadError, match="unsupported scheme 'file'"):
        fetch_file(remote(NAME, DATA), tmp_path, [tmp_path.as_uri()], timeout=5)


def test_progress_is_reported(server, tmp_path):
    big = FILES["train-images-idx3-ubyte.gz"]
    good = server.serve("good", {"x.gz": big})
    calls = []
    fetch_file(remote("x.gz", big), tmp_path, [good], timeout=5,
               progress=lambda name, done, total: calls.append((name, done, total)))
    assert calls[-1] == ("x.gz", len(big), len(big))
    assert [done for _, done, _ in calls] == sorted(done for _, done, _ in calls)


@pytest.fixture()
def fake_mnist(server, monkeypatch):
    """Point the 'mnist' spec at the local server, with the fake files' checksums."""
    mirror = server.serve("mnist", FILES)
    spec = dataclasses.replace(
        SPECS["mnist"], mirrors=(mirror,),
        files=tuple(remote(name, data) for name, data in FILES.items()),
    )
    monkeypatch.setitem(SPECS, "mnist", spec)
    return spec


def test_download_then_load_by_name(fake_mnist, tmp_path):
    folder = download_dataset("mnist", tmp_path, timeout=5)
    assert folder == tmp_path / "mnist"
    assert listing(folder) == sorted(FILES)
    ds = load_dataset("mnist", cache_dir=tmp_path)
    assert ds.test_is_official and len(ds.train) == 30 and len(ds.test) == 10


def test_dl_download_is_the_command_s_download(fake_mnist, tmp_path):
    import digitlab as dl

    folder = dl.download("mnist", cache_dir=tmp_path, timeout=5, progress=False)
    assert folder == tmp_path / "mnist" and listing(folder) == sorted(FILES)
    assert len(dl.load_dataset("mnist", cache_dir=tmp_path).test.labels) == 10
    with pytest.raises(DataError, match="ships with digitlab"):
        dl.download("mnist-sample", cache_dir=tmp_path, progress=False)


def test_download_respects_the_cache_env_var(fake_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLAB_CACHE", str(tmp_path / "env-cache"))
    assert download_dataset("mnist", timeout=5) == tmp_path / "env-cache" / "mnist"
    assert len(load_dataset("mnist").train) == 30


def test_offline_error_says_which_files_to_place_where(fake_mnist, refused_mirror, tmp_path,
                                                       monkeypatch):
    monkeypatch.setitem(SPECS, "mnist", dataclasses.replace(fake_mnist, mirrors=(refused_mirror,)))
    with pytest.raises(DownloadError) as caught:
        download_dataset("mnist", tmp_path, timeout=5)
    message = str(caught.value)
    assert str(tmp_path / "mnist") in message
    for name in FILES:
        assert name in message
    assert "--data DIR" in message
    assert listing(tmp_path / "mnist") == []


def test_published_checksums_are_well_formed():
    for name in ("mnist", "fashion-mnist"):
        spec = SPECS[name]
        assert len(spec.files) == 4 and spec.mirrors
        assert spec.mirrors[0].startswith("https://")
        for f in spec.files:
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0 and f.size > 0
    assert SPECS["mnist"].files[0].sha256.startswith("440fcabf73cc546f")
