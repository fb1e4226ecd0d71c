"""`iocwall serve`: the server (media + controller + web) from config.toml.

Reusable in-process (``iocwall demo`` does this)::

    info = await run_server(config, ready=event, on_ready=print_banner)

runs until SIGINT/SIGTERM or until ``stop`` is set, then stops everything.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:                      # heavy imports stay inside functions: fast --help
    import uvicorn
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp

    from iocwall.streams.contract import MediaService
    from iocwall.wall.config import Config
    from iocwall.wall.services import Services
    from iocwall.wall.tls import TlsFiles


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="config.toml (default: ./config.toml "
                        "if present, else built-in defaults)")
    parser.add_argument("--host", help="listen address (overrides [server] host)")
    parser.add_argument("--port", type=int, help="TCP port (overrides [server] port; 0 = any)")
    parser.add_argument("--data-dir", metavar="DIR", help="data folder (overrides [server] "
                        "data_dir)")


@dataclass(frozen=True)
class ServerInfo:
    """What a started server tells its caller."""
    url: str                           # console URL
    port: int                          # the bound port (useful with port 0)
    admin_user: str
    generated_password: str | None     # only when the first admin's password was generated now
    services: Services


def build_media(config: Config) -> MediaService:
    """The media server: a cluster of ``[streams] processes`` media processes (default 0 =
    one per core), or in this process when that resolves to 1. Either starts empty: the
    cameras come from the registry (seeded from ``[[cameras]]``), at start and as they
    change (wall/registry/sync.py), and the analytics tap runs where each camera is."""
    import logging

    from iocwall.streams.cluster import MediaCluster, process_count
    from iocwall.streams.server import MediaServer
    settings = config.stream_settings()
    if config.cluster.media == "nodes":
        return build_node_media(config)
    count = process_count(settings.processes)
    if count <= 1:
        return MediaServer(settings)
    return MediaCluster(settings, [], count,
                        log_level=logging.getLevelName(config.logging.level))


def build_node_media(config: Config) -> MediaService:
    """``[cluster] media = "nodes"``: media on `iocwall media-node` machines, found through
    their heartbeats on Redis ([bus] redis_url), reached over TLS with the shared secret.
    Raises ValueError (one line) when the secret or the CA is missing."""
    from iocwall.streams.nodeauth import AuthFailed, load_secret
    from iocwall.streams.nodeservice import NodeMediaService
    if not config.cluster.secret_file:
        raise ValueError("[cluster] media = 'nodes' needs [cluster] secret_file")
    if not config.cluster.ca_file:
        # Camera passwords go to whichever node a heartbeat on Redis names. Only a cluster
        # CA of our own makes "a certificate for that address" mean "one of our nodes":
        # with the public roots, anyone able to write to Redis and buy a certificate for a
        # host of theirs could stand in the middle of the secret handshake.
        raise ValueError("[cluster] media = 'nodes' needs [cluster] ca_file: the cluster's "
                         "own CA, which signed the media nodes' certificates")
    try:
        secret = load_secret(config.cluster.secret_file)
    except AuthFailed as exc:
        raise ValueError(str(exc)) from None
    return NodeMediaService(config.stream_settings(), redis_url=config.bus.redis_url,
                            prefix=config.bus.prefix, secret=secret,
                            ca_file=config.cluster.ca_file)


def print_banner(info: ServerInfo) -> None:
    """The one block printed at start: the console URL, and a generated password once."""
    lines = ["", "  iocwall is running / iocwall đang chạy", f"  Console: {info.url}"]
    if info.generated_password:
        lines += [f"  First admin / quản trị viên: {info.admin_user}",
                  f"  Password / mật khẩu:        {info.generated_password}",
                  "  (shown only this once; change it after logging in /",
                  "   chỉ hiển thị một lần, hãy đổi sau khi đăng nhập)"]
    print("\n".join(lines) + "\n", flush=True)


async def run_server(config: Config, *, ready: asyncio.Event | None = None,
                     extra_routes: Sequence[BaseRoute] = (), media: MediaService | None = None,
                     on_ready: Callable[[ServerInfo], None] | None = print_banner,
                     stop: asyncio.Event | None = None,
                     setup: Callable[[Services], Awaitable[object]] | None = None) -> ServerInfo:
    """Start Services + uvicorn, run until a signal or ``stop`` is set, then shut down.

    ready: set once the socket is listening (after on_ready ran).
    extra_routes: pages/APIs added to the app, after the route table (wall/routes.py).
    media: the media service; None = build_media(config).
    on_ready: called once with ServerInfo when listening (default: print the banner).
    stop: set it to shut the server down from the same process.
    setup: awaited once Services have started, before serving (the demo registers its
        simulated cameras here).
    Returns the ServerInfo. Raises what Services.start raises (e.g. Redis unreachable).
    """
    from iocwall.wall.app import build_app
    from iocwall.wall.services import Services
    from iocwall.wall.tls import load_tls

    # before anything starts: a wrong certificate path is one line, not a half-started server
    tls = load_tls(config.server.tls_cert, config.server.tls_key, config.data_path)
    services = Services(config, media=media if media is not None else build_media(config))
    admin = await services.start()
    stop = stop or asyncio.Event()
    server: uvicorn.Server | None = None
    serving: asyncio.Task[None] | None = None
    remove_signals = _on_signals(stop, lambda: server)
    try:
        if setup is not None:
            await setup(services)
        app = build_app(services, extra_routes)
        # We bind the socket ourselves: "port in use" is then a plain OSError for the
        # caller (uvicorn would sys.exit), and port 0 gives the real port up front.
        sock = bind_socket(config.server.host, config.server.port)
        server = _make_server(app, tls)
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
        info = await _wait_listening(server, serving, config, services, admin)
        if services.cluster is not None:            # GET /api/cluster shows where we are
            services.cluster.set_url(f"{info.url.rstrip('/')}")
        if on_ready is not None:
            on_ready(info)
        if ready is not None:
            ready.set()
        await _until_done(serving, stop)
        return info
    finally:
        remove_signals()
        if server is not None and serving is not None and not serving.done():
            server.should_exit = True          # also when we are cancelled: never leak uvicorn
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(15):
                    await asyncio.shield(serving)
        await services.stop()


def _make_server(app: ASGIApp, tls: TlsFiles | None = None) -> uvicorn.Server:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn without its own signal handling: we stop in order (web, media, bus,
        store) and return normally, instead of uvicorn re-raising the signal at the end."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1 (any local
    # account); wall/auth/proxies.py believes it only from [server] trusted_proxies.
    return Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                 server_header=False, proxy_headers=False,
                                 ssl_certfile=str(tls.cert) if tls else None,
                                 ssl_keyfile=str(tls.key) if tls else None))


def _on_signals(stop: asyncio.Event, server: Callable[[], object]) -> Callable[[], None]:
    """SIGINT/SIGTERM set ``stop``; a second one forces uvicorn to drop open connections."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()

    def handle() -> None:
        if stop.is_set() and server() is not None:
            server().force_exit = True  # type: ignore[attr-defined]
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, handle)

    def remove() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return remove


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP. Without it every response after a connection's first one (headers and body
    # are two writes) waited ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


async def _wait_listening(server, serving, config, services, admin) -> ServerInfo:  # type: ignore[no-untyped-def]
    while not server.started:
        if serving.done():
            serving.result()            # re-raise why uvicorn stopped (port in use ...)
            raise OSError("the web server stopped before it started listening")
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    host = config.server.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    scheme = "https" if config.server.tls_cert else "http"
    url = config.server.public_url or f"{scheme}://{shown}:{port}/"
    return ServerInfo(url, port, config.auth.admin_user,
                      admin.generated_password if admin else None, services)


async def _until_done(serving: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Until uvicorn ends by itself or ``stop`` is set (the finally block then stops it)."""
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if serving.done():
        serving.result()


def run(args: argparse.Namespace) -> int:
    from iocwall.wall.config import ConfigError, load_config
    from iocwall.wall.errors import ApiError
    from iocwall.wall.logs import setup
    from iocwall.wall.private_files import UnsafeDataDir, private_dir
    from iocwall.wall.store import MigrationError, StoreUnavailable
    from iocwall.wall.tls import TlsError

    try:
        config = load_config(args.config, host=args.host, port=args.port,
                             data_dir=args.data_dir)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"iocwall serve: {line}", file=sys.stderr)
        return 2
    data = config.data_path
    try:
        private_dir(data)                 # 0700; refused if other accounts can read it
    except UnsafeDataDir as exc:
        print(f"iocwall serve: cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"iocwall serve: cannot create data dir {data}: {exc.strerror}", file=sys.stderr)
        return 2
    log_file = data / config.logging.file if config.logging.file else None
    setup(config.logging.level, log_file, config.logging.json_lines,
          config.logging.max_bytes, config.logging.backup_count)
    try:
        asyncio.run(run_server(config))
    except TlsError as exc:
        print(f"iocwall serve: {exc}", file=sys.stderr)
        return 2
    except (MigrationError, ApiError, OSError, UnsafeDataDir) as exc:
        reason = getattr(exc, "message", None) or getattr(exc, "strerror", None) or str(exc)
        if isinstance(exc, StoreUnavailable):       # where, and why (never the password)
            reason = str(exc)
        print(f"iocwall serve: cannot start: {reason}", file=sys.stderr)
        return 1
    except Exception as exc:           # e.g. Redis unreachable: one line, details in the log
        import logging
        logging.getLogger(__name__).exception("server failed")
        print(f"iocwall serve: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
