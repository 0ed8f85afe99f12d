"""Compiled kernels (Numba) for the fused engine: the same maths as the NumPy fused paths, in
fewer passes over memory and without a Python call per operation.

- :mod:`.kernels` — the Python side: :class:`~.kernels.PerSampleSGD` (a network's per-sample
  training through the compiled loop), :class:`~.kernels.CompiledMinibatch` (minibatch steps
  through :mod:`.minibatch_kernels`), :class:`~.kernels.CompiledUpdate` (an optimizer whose
  update is compiled).
- :mod:`.network_kernels` — per-sample SGD (equations (1)–(2)) for any depth: the first layer
  in blocks of samples (its products and updates become matrix products, with exact
  corrections for the updates inside a block), each later weight matrix streamed once per
  sample for the update of the previous sample *and* the product with the next input; a call
  runs a few hundred samples, then hands control back.
- :mod:`.optimizer_kernels` — the optimizer's update of a piece of the parameter vector (Adam,
  SGD with momentum / Nesterov, weight decay) as one pass instead of about ten NumPy calls.
- :mod:`.minibatch_kernels` — a minibatch step a layer per call on Numba's parallel threads:
  the forward pass in pieces of units; per block of rows the share of equation (1), the
  gradient rows and their SGD or Adam update.

Numba is imported only when a compiled kernel is first needed (:func:`load`); compiled code is
cached on disk, so only the first training of a new install pays the compilation. When Numba
cannot be imported, :func:`load` returns None and says so once; callers then run the NumPy path.
``DIGITLAB_COMPILED=0`` in the environment switches the compiled kernels off the same way.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType

from digitlab.errors import Message
from digitlab.i18n import N_

log = logging.getLogger(__name__)

#: spins of a thread of Numba's parallel loops (GNU OpenMP) before it sleeps
SPIN_COUNT = 100_000
#: why the compiled kernels are not available (None while they are, or before the first load):
#: a :class:`~digitlab.errors.Message`, English and translatable where it is shown
unavailable_reason: str | None = None
_kernels: ModuleType | None = None
_tried = False


def load() -> ModuleType | None:
    """The module of compiled kernels, or None when Numba is missing (a warning through
    :mod:`logging`, logger ``digitlab.nn.compiled``) or switched off (an info line).

    Sets ``NUMBA_CACHE_DIR`` to a user cache folder first when the package folder is not
    writable (an installed package), so that the compiled code is cached in either case.
    """
    global _kernels, _tried, unavailable_reason
    if _tried:
        return _kernels
    _tried = True
    if os.environ.get("DIGITLAB_COMPILED", "").strip() == "0":
        unavailable_reason = Message("compiled kernels switched off (DIGITLAB_COMPILED=0)")
        log.info(N_("%s; training runs the NumPy fused engine"), unavailable_reason)
        return None
    _choose_cache_dir()
    # Threads that wait at the end of a parallel region spin for a few milliseconds (GNU
    # OpenMP's count of 100,000 spins: 3.5 ms measured), then sleep. A minibatch step of the
    # ``report`` network runs 6 parallel regions with the Python work between them; threads
    # that slept at once took 9.8–13.6 ms a step against 8.0–8.2 ms spinning. Without a bound
    # (OpenMP's default is 300,000 spins), on a machine whose cores were busy with other work
    # the spinning threads took turns away from the working ones: 2 threads took 1–10 ms per
    # per-sample step spinning, 0.2–0.6 ms sleeping, under a load of 15 on 2 cores.
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", str(SPIN_COUNT))
    try:
        import numba  # noqa: F401
    except Exception as error:  # ImportError, or a Numba too old/new for this NumPy
        unavailable_reason = Message("Numba cannot be imported ({kind}: {error})",
                                     kind=type(error).__name__, error=str(error))
        log.warning(N_("%s; training runs the NumPy fused engine instead"), unavailable_reason)
        return None
    from digitlab.nn.compiled import kernels

    _kernels = kernels
    return _kernels


def _choose_cache_dir() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    package = Path(__file__).parent
    if os.access(package, os.W_OK):
        return  # Numba caches beside the source, in __pycache__
    import platformdirs

    os.environ["NUMBA_CACHE_DIR"] = str(Path(platformdirs.user_cache_dir("digitlab")) / "numba")
