"""Fine-tuning on "your" digits: how well a network reads another hand before and after.

No person draws here, so "your digits" are the ten digits written in the fonts matplotlib
ships (DejaVu, STIX, Computer Modern: 14 typefaces, regular, bold, italic), each also tilted
by ±8°, on a 140×140 white sheet as the lab's page sends a drawing: 420 digits, each read by
``POST /api/predict`` and kept by ``POST /api/my-digits`` of an in-process lab (the digits land
in ``RUNS/my-digits`` as they would from the page). A network trained on MNIST misreads many of
them (a typed 1, 4 or 7 is not a handwritten one).

The network is a run given with ``--run``, else the lab's first network, the assignment preset
(784-784-10 tanh, per-sample SGD, ``--epochs`` epochs) trained on the embedded sample. Then
``digitlab.finetuning.finetune`` teaches it ``--finetune-epochs`` more epochs on 75 % of the
typed digits (25 % of each digit kept aside), mixed with as many of its own training digits,
and the accuracy on the kept-aside typed digits and on the run's own test tenth of the sample
is printed before and after.

    python benchmarks/bench_finetune.py [--run RUN] [--epochs 3] [--finetune-epochs 3]
        [--replay 1.0] [--out DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import matplotlib
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont

from digitlab.config import preset
from digitlab.finetuning import finetune
from digitlab.serve import create_app
from digitlab.training import train

FONTS = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
FACES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
         "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf",
         "DejaVuSansMono-Bold.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf",
         "STIXGeneralItalic.ttf", "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf")
TILTS = (-8, 0, 8)  # degrees
SIDE = 140  # the page's sheet, pixels


def typed(digit: int, face: str, tilt: float) -> bytes:
    """``digit`` in the font ``face``, tilted by ``tilt`` degrees, dark on a white RGBA sheet."""
    ink = Image.new("L", (SIDE, SIDE), 0)
    font = ImageFont.truetype(str(FONTS / face), int(SIDE * 0.7))
    ImageDraw.Draw(ink).text((SIDE / 2, SIDE / 2), str(digit), font=font, anchor="mm", fill=255)
    ink = ink.rotate(tilt, resample=Image.Resampling.BILINEAR)
    sheet = Image.new("RGBA", (SIDE, SIDE), (255, 255, 255, 255))
    sheet.paste((17, 17, 17, 255), mask=ink)
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG")
    return buffer.getvalue()


def keep_typed_digits(runs: Path, model: str) -> int:
    """Every typed digit read and kept through the lab's API; how many were kept."""
    with TestClient(create_app(runs, port=8000), base_url="http://127.0.0.1:8000") as lab:
        for face in FACES:
            for tilt in TILTS:
                for digit in range(10):
                    read = lab.post(f"/api/predict?model={model}", content=typed(digit, face, tilt),
                                    headers={"Content-Type": "image/png"})
                    read.raise_for_status()
                    kept = lab.post("/api/my-digits", json={"image": read.json()["prepared"],
                                                             "label": digit})
                    kept.raise_for_status()
    return kept.json()["count"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=None, help="a trained run (default: train "
                        "the assignment preset)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the assignment run")
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--replay", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=None, help="a new runs folder to keep "
                        "(default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        runs = args.out or Path(scratch)
        print(f"load average {os.getloadavg()[0]:.2f}; runs in {runs}", flush=True)
        source = runs / "network"
        if args.run is not None:
            shutil.copytree(args.run, source)  # the given run is only read
        else:
            started = time.perf_counter()
            train(preset("assignment").replace(epochs=args.epochs), run_dir=source,
                  progress=False)
            print(f"trained the assignment preset, {args.epochs} epochs, in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        count = keep_typed_digits(runs, "network")
        started = time.perf_counter()
        result = finetune(source, runs / "my-digits", runs / "network-mine",
                          epochs=args.finetune_epochs, replay=args.replay)
        print(f"kept {count} typed digits; fine-tuned {args.finetune_epochs} epochs on "
              f"{result.trained_on} of them and {result.replayed} of its own digits in "
              f"{time.perf_counter() - started:.0f} s")
        print(f"{'':34}{'before':>9}{'after':>9}")
        for name, before, after in (
                (f"typed digits kept aside ({result.held_out})", result.before.own,
                 result.after.own),
                ("its own test tenth of the sample", result.before.test, result.after.test)):
            print(f"{name:<34}{before:>9.1%}{after:>9.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
