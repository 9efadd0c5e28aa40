"""`python -m trainer.serve` / `deeplab-trainer serve`: a model behind a REST endpoint (the deploy work mode)."""
import ipaddress
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from trainer.cli.common import ArgumentParser, add_set_argument, run_cli
from trainer.config.resolve import infer_config_layer, with_infer_settings
from trainer.errors import UserError
from trainer.infer.session import InferenceSession
from trainer.progress import say

TOKEN_VARIABLE = "DEEPLAB_TRAINER_TOKEN"


def _bind(host: str, port: int) -> socket.socket:
    """The server's socket, bound but not listening: a taken port fails now, and clients are refused (not left
    waiting) until the model is warm."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        raise UserError(f"--host {host} --port {port}: cannot listen there ({error.strerror or error})") from None
    return sock


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _name(model: Path) -> str:
    """TF Serving's model name for the URL: the run, checkpoint or export folder's name, or the file's stem."""
    model = model.resolve()
    if model.is_file():
        return model.stem
    return model.parent.name if model.name in ("best", "last", "saved_model") else model.name


def _log_to_stderr() -> None:
    """The server's log (access lines, errors with their request id) on stderr; other libraries keep theirs quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log = logging.getLogger("trainer.serve")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _main(argv: list[str] | None) -> None:
    p = ArgumentParser(prog="python -m trainer.serve",
                       description="Serve a model over HTTP: Supervisely's serving API, the plugin's REST deploy, "
                                   "TF Serving's REST predict; /docs lists the endpoints.")
    p.add_argument("--model", metavar="MODEL", required=True,
                   help="a run folder (its best checkpoint), a checkpoint folder, or an exported SavedModel / .tflite")
    p.add_argument("--config", metavar="FILE", help="inference config: the default settings of every request")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port, printed)")
    p.add_argument("--name", help="the model's name in TF Serving's URLs (default: the model folder's name)")
    p.add_argument("--max-batch", type=int, default=8, metavar="N", help="crops per model call (default 8)")
    p.add_argument("--batch-wait-ms", type=float, default=5.0, metavar="MS",
                   help="longest wait for other requests' crops to batch with (default 5)")
    p.add_argument("--queue", type=int, default=64, metavar="N",
                   help="requests admitted at once; more get 503 with Retry-After (default 64)")
    p.add_argument("--max-request-mb", type=float, default=32.0, metavar="MB", help="largest request body (default 32)")
    p.add_argument("--max-image-pixels", type=int, default=40_000_000, metavar="N",
                   help="largest image, read from its header before decoding (default 40000000)")
    p.add_argument("--token", help=f"require 'Authorization: Bearer TOKEN' on every route but /healthz "
                                   f"(default: ${TOKEN_VARIABLE})")
    add_set_argument(p)
    args = p.parse_args(argv)
    for flag in ("max_batch", "batch_wait_ms", "queue", "max_request_mb", "max_image_pixels"):
        minimum = 0 if flag == "batch_wait_ms" else 1
        if getattr(args, flag) < minimum:
            raise UserError(f"--{flag.replace('_', '-')}: must be at least {minimum}")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: not a port number (0..65535)")
    token = args.token or os.environ.get(TOKEN_VARIABLE) or None

    layer, where = infer_config_layer(args.config, args.overrides)
    cfg = with_infer_settings(layer, where)
    source = InferenceSession.locate(Path(args.model), cfg)
    sock = _bind(args.host, args.port)
    if token is None and not _loopback(args.host):
        say(f"warning: serving on {args.host} without a token: anyone who can reach it can use it "
            f"(--token or ${TOKEN_VARIABLE})")

    # TensorFlow loads only once the inputs are known to be good.
    from trainer.serve.memory import reuse_freed_memory

    reuse_freed_memory()
    import uvicorn

    from trainer.serve.app import create_app
    from trainer.serve.service import Limits, ModelService

    _log_to_stderr()
    limits = Limits(args.max_batch, args.batch_wait_ms, args.queue, args.max_request_mb, args.max_image_pixels)
    service = ModelService.open(source, cfg, layer, where, limits, args.name or _name(Path(args.model)))
    host, port = sock.getsockname()[:2]

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            if self.started:   # listening now: clients (and scripts waiting for this line) may connect
                say(f"serving {service.name} on http://{host}:{port} (API docs: http://{host}:{port}/docs); "
                    "SIGTERM or Ctrl-C stops after the requests in flight")

    server = Server(uvicorn.Config(None, log_level="warning", access_log=False, timeout_graceful_shutdown=None))
    server.config.app = create_app(service, token, lambda: server.should_exit)
    # uvicorn drains on SIGTERM, then raises the signal again: by then it only has to end the process with 0
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        server.run(sockets=[sock])
    finally:
        service.close()
    say("stopped")


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
