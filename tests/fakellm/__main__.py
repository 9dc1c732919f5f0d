"""Run the fake model server as a process: `python -m tests.fakellm --port 0`.

Prints `FAKELLM_URL=http://127.0.0.1:PORT` once listening, so a parent can read the port.
"""

from __future__ import annotations

import argparse
import json
import sys

from .server import FakeLLM


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakellm")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", help="append each request as a JSON line to this file")
    parser.add_argument("--script", help="JSON file with a list of rules to start with")
    args = parser.parse_args(argv)
    fake = FakeLLM(args.host, args.port, args.log)
    if args.script:
        with open(args.script, encoding="utf-8") as fh:
            fake.set_script(json.load(fh))
    print(f"FAKELLM_URL={fake.url}", flush=True)
    try:
        fake.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
