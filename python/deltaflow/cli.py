"""The ``deltaflow`` command: ``deltaflow spawn`` and ``deltaflow replay``, as Pathway's
``pathway spawn`` and ``pathway replay``.

``deltaflow replay --record-path DIR PROGRAM [ARGS...]`` runs a program over the input it
persisted in ``DIR`` (``pw.persistence.Backend.filesystem(DIR)``): every output receives the
results of that input again; with ``--continue`` the inputs are then read on from where the
recording ends. The persisted state itself is left as it was.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence


def _exec(program: str, arguments: Sequence[str], env: dict[str, str]) -> int:
    argv = [sys.executable, program, *arguments] if program.endswith(".py") else [program, *arguments]
    os.execvpe(argv[0], argv, env)
    return 0  # not reached


def _with_threads(env: dict[str, str], threads: int | None) -> dict[str, str]:
    if threads is not None:
        if threads < 1:
            raise SystemExit("deltaflow: --threads must be positive")
        env["DELTAFLOW_THREADS"] = env["PATHWAY_THREADS"] = str(threads)
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deltaflow", description="Run deltaflow programs.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command")

    spawn = commands.add_parser("spawn", help="run a program with a number of worker threads")
    spawn.add_argument("-t", "--threads", type=int, default=None, help="worker threads")
    spawn.add_argument("program")
    spawn.add_argument("arguments", nargs=argparse.REMAINDER)

    replay = commands.add_parser("replay", help="run a program over its persisted input")
    replay.add_argument("-t", "--threads", type=int, default=None, help="worker threads")
    replay.add_argument("--record-path", default="record", help="directory in which the recording is stored")
    replay.add_argument("--mode", choices=["batch", "speedrun"], default="speedrun", help="mode of replaying data")
    replay.add_argument("--continue", dest="continue_after_replay", action="store_true",
                        help="read the inputs on after the recording is replayed")
    replay.add_argument("program")
    replay.add_argument("arguments", nargs=argparse.REMAINDER)

    args = parser.parse_args(argv)
    if args.version:
        from deltaflow import __version__

        print(f"deltaflow {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    env = _with_threads(dict(os.environ), args.threads)
    if args.command == "replay":
        if not os.path.isdir(args.record_path):
            print(f"deltaflow replay: no recording at {args.record_path}", file=sys.stderr)
            return 2
        env["DELTAFLOW_REPLAY_STORAGE"] = env["PATHWAY_REPLAY_STORAGE"] = args.record_path
        mode = "SPEEDRUN_REPLAY" if args.mode == "speedrun" else "BATCH"
        env["DELTAFLOW_PERSISTENCE_MODE"] = env["PATHWAY_PERSISTENCE_MODE"] = mode
        flag = "true" if args.continue_after_replay else "false"
        env["DELTAFLOW_CONTINUE_AFTER_REPLAY"] = env["PATHWAY_CONTINUE_AFTER_REPLAY"] = flag
    return _exec(args.program, args.arguments, env)


if __name__ == "__main__":
    sys.exit(main())
