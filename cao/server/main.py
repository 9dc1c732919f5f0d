"""`cao-server`: run the API on loopback (127.0.0.1:9889 by default)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from cao import config


def serve(host: str | None = None, port: int | None = None, profiles: list[str] | None = None,
          log_level: str = "warning", allow_remote: bool = False) -> None:
    import uvicorn

    from cao.server.app import create_app
    from cao.server.security import is_loopback_host

    host = host or config.server_host()
    port = port or config.server_port()
    if not is_loopback_host(host) and not allow_remote:
        sys.exit(f"cao-server: refusing to listen on {host!r}: only loopback addresses are allowed "
                 "(agents run commands on this machine; pass --allow-remote only behind your own "
                 "authenticating proxy)")
    # Child processes (agents, MCP servers) must reach this server, wherever it listens.
    os.environ["CAO_PORT"] = str(port)
    os.environ["CAO_HOST"] = host
    os.environ.setdefault("CAO_SERVER_URL", f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}")
    if profiles:
        os.environ["CAO_PROFILE_DIRS"] = os.pathsep.join(
            [*profiles, *filter(None, os.environ.get("CAO_PROFILE_DIRS", "").split(os.pathsep))])
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    extra = {host} if allow_remote else None
    config_ = uvicorn.Config(create_app(extra_hosts=extra), host=host, port=port,
                             log_level=log_level, access_log=False)
    _quiet_server_class(uvicorn)(config_).run()


def _quiet_server_class(uvicorn):
    """uvicorn's server that ticks once a second instead of ten times.

    uvicorn wakes every 0.1 s to refresh its Date header (a once-a-second job) and to look
    for a stop request; that alone was half of an idle cao-server's CPU. Here the loop
    sleeps a second between ticks and a SIGINT/SIGTERM wakes it at once, so stopping is
    as quick as before.
    """
    import asyncio

    class QuietServer(uvicorn.Server):
        async def main_loop(self) -> None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            counter = 0
            should_exit = await self.on_tick(counter)
            while not should_exit:
                counter = (counter + 10) % 864000  # each tick is a once-a-second tick for on_tick
                try:
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass
                should_exit = await self.on_tick(counter)

        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            loop = getattr(self, "_loop", None)
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._wake.set)  # safe from a signal handler

    return QuietServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cao-server", description=__doc__)
    parser.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 9889, or CAO_PORT)")
    parser.add_argument("--profiles", action="append", default=[], metavar="DIR",
                        help="extra folder of agent profiles (repeatable)")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--allow-remote", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, args.profiles, args.log_level, args.allow_remote)
    except KeyboardInterrupt:  # Ctrl-C: uvicorn shut down cleanly, then re-raised SIGINT
        sys.exit(130)


if __name__ == "__main__":
    main()
