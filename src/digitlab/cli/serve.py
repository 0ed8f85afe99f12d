"""``digitlab serve``: the interactive lab in the browser (draw, question, train, dream)."""

from __future__ import annotations

import os
import socket
import threading
import webbrowser
from pathlib import Path

import click

from digitlab.cli.help import TranslatedCommand, _
from digitlab.errors import ConfigError, Message
from digitlab.i18n import N_


@click.command(name="serve", cls=TranslatedCommand)
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs"), show_default=True,
              help=N_("Folder whose run folders (each with a model.npz) the lab offers; runs "
                      "trained from the page are written here."))
@click.option("--host", default="127.0.0.1", show_default=True,
              help=N_("Address to bind. Anything but a local address lets other machines in."))
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help=N_("Port to listen on (0: any free port)."))
@click.option("--open/--no-open", "open_browser", default=False, show_default=True,
              help=N_("Open the page in the default web browser once the server runs."))
@click.option("--lang", default=None, metavar="sl|en",
              help=N_("Language of the page for a reader who has not chosen one with its SL / "
                      "EN switch. Default: DIGITLAB_LANG if set, else the language the browser "
                      "asks for, else English."))
def serve(runs_dir: Path, host: str, port: int, open_browser: bool, lang: str | None) -> None:
    """Start the interactive lab: a local web page to draw digits and watch a network read
    them, see which pixels drove the answer, train a network live, take the quiz over its
    mistakes, watch it dream, and probe it with things that are not digits.

    Runs the server until Ctrl-C. Works offline; nothing is loaded from the internet.
    """
    import uvicorn
    from threadpoolctl import threadpool_limits

    from digitlab.i18n import LANGUAGE_VARIABLE, check_language
    from digitlab.serve import create_app
    from digitlab.serve.safety import is_local_host

    if runs_dir.exists() and not runs_dir.is_dir():
        raise ConfigError(Message("--runs {folder}: not a folder", folder=runs_dir))
    if lang:
        lang = check_language(lang, "--lang")
    elif os.environ.get(LANGUAGE_VARIABLE):
        lang = check_language(os.environ[LANGUAGE_VARIABLE], LANGUAGE_VARIABLE)
    listener = _bind(host, port)
    port = listener.getsockname()[1]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    if not is_local_host(host):
        click.echo(_("warning: --host {host} is not a local address: other machines can reach "
                     "this server and start trainings on it.").format(host=host), err=True)
        url = f"http://127.0.0.1:{port}/" if host in ("0.0.0.0", "::") else url
    app = create_app(runs_dir, host=host, port=port, lang=lang or None)
    click.echo(_("digitlab lab on {url}  (runs from {folder}; Ctrl-C stops)").format(
        url=url, folder=runs_dir))
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    # single-sample products are small: one BLAS thread per request thread, no oversubscription
    with threadpool_limits(limits=1):
        config = uvicorn.Config(app, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=5)
        try:
            uvicorn.Server(config).run(sockets=[listener])
        except KeyboardInterrupt:  # Ctrl-C: uvicorn has shut down cleanly, trainings stopped
            click.echo(_("Stopped."))
        finally:
            listener.close()


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (a clear one-line error when it is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP: asyncio then sets TCP_NODELAY on each connection (with proto 0 it does
    # not, and every keep-alive answer waited ~40 ms for the client's delayed ACK)
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise ConfigError(Message("cannot listen on {host}:{port} ({error}); choose another "
                                  "--port or --host", host=host, port=port,
                                  error=error.strerror)) from None
    listener.listen(128)
    listener.set_inheritable(True)
    return listener
