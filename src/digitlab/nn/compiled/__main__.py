"""Compile the kernels now: ``python -m digitlab.nn.compiled``.

Numba caches compiled code on disk beside these modules, so only the first training of a new
install pays the compilation (about half a minute on two cores). This pays it up front, in a
setup script or a container build, by training a tiny network of each kind the compiled
engine runs — per-sample SGD (the assignment), minibatch Adam with dropout and augmentation
(``best``), adversarial training with outlier exposure and calibration (``honest``) — in
float32 and in float64. Every later process loads the cached code.
"""

from __future__ import annotations

import time

#: the kinds of run compiled ahead: a preset and the changes that make it tiny
RUNS = (
    ("assignment", {"hidden": [16]}),
    ("report", {"hidden": [16, 16]}),
    ("best", {"hidden": [16, 16]}),
    ("honest", {"hidden": [16, 16], "attack_steps": 2}),
)
SAMPLES = 300


def compile_kernels() -> float:
    """Train each of :data:`RUNS` for one epoch on :data:`SAMPLES` digits in both dtypes;
    return the seconds it took (nearly all of it compilation on a new install)."""
    import digitlab as dl
    from digitlab.nn import compiled

    if compiled.load() is None:  # Numba missing or switched off: nothing to compile
        return 0.0
    data = dl.load_dataset()
    start = time.perf_counter()
    for dtype in ("float32", "float64"):
        for preset, changes in RUNS:
            dl.train(preset=preset, dataset=data, dtype=dtype, epochs=1,
                     max_train_samples=SAMPLES, progress=False, **changes)
    return time.perf_counter() - start


if __name__ == "__main__":
    print(f"digitlab's compiled kernels are ready ({compile_kernels():.0f} s)")
