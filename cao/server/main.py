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
    uvicorn.run(create_app(extra_hosts=extra), host=host, port=port, log_level=log_level,
                access_log=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cao-server", description=__doc__)
    parser.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 9889, or CAO_PORT)")
    parser.add_argument("--profiles", action="append", default=[], metavar="DIR",
                        help="extra folder of agent profiles (repeatable)")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--allow-remote", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.profiles, args.log_level, args.allow_remote)


if __name__ == "__main__":
    main()
