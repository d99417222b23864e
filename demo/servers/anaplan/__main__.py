"""Run the local Anaplan server until SIGTERM or Ctrl-C (the Makefile starts it in the background).

    python -m demo.servers.anaplan --port 8765 --db data/anaplan.sqlite --pidfile data/anaplan.pid

Prints its URL on the first line of stdout once it is listening; the pidfile is written only then,
so a script can wait for the pidfile. Credentials come from ANAPLAN_USERNAME / ANAPLAN_PASSWORD
(the defaults are for this local server only), workspace and model ids from ANAPLAN_WORKSPACE_ID /
ANAPLAN_MODEL_ID or the flags.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from demo.servers.anaplan.server import RunningServer, start_server
from demo.servers.common.cli import serve_until_stopped


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo.servers.anaplan", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--db", type=Path, default=Path("data/anaplan.sqlite"), help="SQLite file for the cells")
    parser.add_argument("--pidfile", type=Path, help="write the process id here once listening; removed on exit")
    parser.add_argument("--workspace-id", default=os.environ.get("ANAPLAN_WORKSPACE_ID") or "demo-ws")
    parser.add_argument("--model-id", default=os.environ.get("ANAPLAN_MODEL_ID") or "demo-model")
    parser.add_argument("--token-ttl-seconds", type=float, default=2100, help="token lifetime (Anaplan: 35 min)")
    parser.add_argument("--landing", type=Path, help="landing files whose planning exports the server offers")
    parser.add_argument("--export-chunk-bytes", type=int, default=1_000_000, help="size of an export file chunk")
    parser.add_argument("--dump-chunk-bytes", type=int, default=10_000_000, help="size of a failure dump chunk")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)

    def build() -> RunningServer:
        return start_server(
            args.db,
            port=args.port,
            workspace_id=args.workspace_id,
            model_id=args.model_id,
            username=os.environ.get("ANAPLAN_USERNAME") or "demo",
            password=os.environ.get("ANAPLAN_PASSWORD") or "demo-password",
            token_ttl_seconds=args.token_ttl_seconds,
            landing_dir=args.landing,
            export_chunk_bytes=args.export_chunk_bytes,
            dump_chunk_bytes=args.dump_chunk_bytes,
        )

    banner = f"(db {args.db}, workspace {args.workspace_id}, model {args.model_id})"
    return serve_until_stopped("local Anaplan server", args.port, args.pidfile, build, banner)


if __name__ == "__main__":
    sys.exit(main())
