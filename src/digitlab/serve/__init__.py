"""``digitlab serve``: the interactive lab, a local web application on the engine.

A FastAPI application (:func:`create_app`) answers the page in ``static/`` through the JSON
endpoints described in ``docs/serve-api.md``: predictions with their explanation, the runs and
their curves, training in a separate process with live progress, the quiz over a network's
mistakes, dreams (equation (3)) streamed step by step, and the non-digit probes.
"""

from digitlab.serve.app import create_app

__all__ = ["create_app"]
