"""The training process: :func:`digitlab.training.train` into an ordinary run folder, or
:func:`digitlab.finetuning.finetune` from one run into a new one.

Started by :class:`digitlab.serve.training.TrainingManager` with the ``spawn`` method, so it
shares no state with the server. It reports back through a queue as ``(kind, data)`` tuples:
``("progress", {...})`` at most a few times per second, ``("epoch", record)`` after each
checkpoint and one final ``("done", {"state", "test_accuracy", "message"})``, its message a
:class:`~digitlab.serve.language.LaterMessage` as a plain dict (each page that follows the
training reads it in its own language), or None. SIGINT stops it
after the last completed epoch (kept on disk, so ``digitlab train --resume`` continues it).
The run folder ends up with the same files as ``digitlab train`` writes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from digitlab.serve.language import N_, LaterMessage

PROGRESS_INTERVAL = 0.25  # seconds between progress reports at most
NICENESS = 5  # the training yields the CPU to the server, which keeps answering
ORPHAN_CHECK = 1.0  # seconds between checks that the server is still there


def run_training(config_fields: dict[str, Any], run_dir: str, queue) -> None:
    """Train the config ``config_fields`` describes into ``run_dir``, reporting to ``queue``."""
    _run(lambda: _train(config_fields, Path(run_dir), queue), queue)


def run_finetuning(source: str, digits: str, run_dir: str, epochs: int, queue) -> None:
    """Fine-tune the network of run ``source`` on the digits of ``digits`` for ``epochs``
    epochs into the new run folder ``run_dir`` (:func:`digitlab.finetuning.finetune`),
    reporting to ``queue``; the end also carries ``"finetune"``: what was measured before and
    after."""
    _run(lambda: _finetune(source, digits, Path(run_dir), epochs, queue), queue)


def _run(work, queue) -> None:
    """``work()`` -> (state, test_accuracy, message, extra) at a lower priority, stopped with
    the server; its end (or its failure, one line) sent to ``queue`` as ``("done", {...})``."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(NICENESS)
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()
    extra: dict[str, Any] = {}
    try:
        state, test_accuracy, message, extra = work()
    except KeyboardInterrupt:
        state, test_accuracy, message = "cancelled", None, None
    except Exception as error:  # reported to the page as a failed job, one line
        from digitlab.errors import DigitlabError

        state, test_accuracy = "failed", None
        words = str(error) if isinstance(error, DigitlabError) else \
            f"{type(error).__name__}: {error}"
        message = LaterMessage(" ".join(words.split()), translate=False)
    queue.put(("done", {"state": state, "test_accuracy": test_accuracy,
                        "message": None if message is None else message.to_wire(), **extra}))


def _stop_when_orphaned(parent: int) -> None:
    """Interrupt the training (keeping its last epoch) should the server die without a word."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK)
    os.kill(os.getpid(), signal.SIGINT)


#: what a finished training says, by how it ended (its test accuracy is sent beside it)
ENDINGS = {"completed": N_("completed: epochs {epochs}"),
           "early_stopping": N_("stopped early: epochs {epochs}")}


def _reports(queue):
    """:class:`~digitlab.training.Callbacks` that send a training's start, its running values
    (a few per second at most) and its epochs to ``queue``."""
    from digitlab.training import Callbacks

    epoch_size = [1]  # samples of an epoch, known once the data is
    last_report = [0.0]

    def on_start(config, dataset) -> None:
        n = len(dataset.train.labels)
        if config.max_train_samples:
            n = min(n, config.max_train_samples)
        epoch_size[0] = n
        queue.put(("started", {"epochs": config.epochs, "total": n}))

    def on_progress(record: dict[str, Any]) -> None:
        now, n = time.monotonic(), epoch_size[0]
        samples = int(record["samples"])  # epochs before this one times n, plus this one's
        epoch_index = (samples - 1) // n
        if now - last_report[0] < PROGRESS_INTERVAL and samples % n:
            return
        last_report[0] = now
        queue.put(("progress", {"epoch": epoch_index + 1, "samples": samples - epoch_index * n,
                                "total": n, "running_loss": float(record["loss"]),
                                "running_accuracy": float(record["accuracy"])}))

    def on_epoch_end(record: dict[str, Any]) -> None:
        queue.put(("epoch", dict(record)))

    return Callbacks(on_start=on_start, on_epoch_end=on_epoch_end, on_progress=on_progress)


def _train(config_fields: dict[str, Any], run_dir: Path, queue):
    from digitlab.config import TrainConfig
    from digitlab.training import train

    config = TrainConfig.from_dict(config_fields)
    result = train(config, run_dir=run_dir, progress=False, callbacks=_reports(queue))
    if result.status == "interrupted":
        return "cancelled", None, _kept(result), {}
    ending = ENDINGS.get(result.status, f"{result.status}: epochs {{epochs}}")
    return "finished", result.history.final.get("test_accuracy"), LaterMessage(
        ending, {"epochs": len(result.history.epochs)}, translate=result.status in ENDINGS), {}


def _finetune(source: str, digits: str, run_dir: Path, epochs: int, queue):
    from digitlab.finetuning import finetune

    result = finetune(source, digits, run_dir, epochs=epochs, callbacks=_reports(queue))
    measured = {key: result.to_dict()[key]
                for key in ("trained_on", "held_out", "replayed", "before", "after")}
    if result.status == "interrupted":  # the last completed epoch is kept, and was measured
        return "cancelled", result.after.test, None, {"finetune": measured}
    return "finished", result.after.test, None, {"finetune": measured}


def _kept(result) -> LaterMessage:
    done = len(result.history.epochs)
    if done == 0:
        return LaterMessage(N_("cancelled in epoch 1: no epoch was completed, nothing was saved"))
    return LaterMessage(N_("cancelled in epoch {epoch}: the last completed epoch ({done}) is "
                           "kept; digitlab train --resume continues it"),
                        {"epoch": done + 1, "done": done})
