"""The ``unnas`` command line. Each module in :mod:`unnas.commands` is one subcommand.

A command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
User mistakes (:class:`~unnas.errors.UnnasError`) print one line and exit non-zero; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import threading
import traceback

from unnas import __version__, commands
from unnas.commands._parsing import IntermixedParser
from unnas.errors import UnnasError, one_line


def _command_modules():
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"unnas.commands.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unnas", description="Neural architecture search without labels.")
    parser.add_argument("--version", action="version", version=f"unnas {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=IntermixedParser)
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if on_main else None
    try:
        code = _run_command(args)
        sys.stdout.flush()  # a reader that went away (`unnas draw … | head -1`) shows here, not at exit
        return code
    except BrokenPipeError:
        return _stdout_gone()
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous)


def _stdout_gone() -> int:
    """stdout's reader closed the pipe: stop quietly with the shell's SIGPIPE status (Python's docs:
    point stdout at devnull, so the flush at exit does not raise again)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # a stdout without a file descriptor (tests capturing it)
        pass
    return 141


def _run_command(args) -> int:
    try:
        return int(args._run(args) or 0)
    except UnnasError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"unnas {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, Terminated) as exc:
        print(f"unnas {args.command}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130


class Terminated(BaseException):
    """SIGTERM (a scheduler's or the user's kill): unwinds like Ctrl-C, so locks and temp files are released."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


if __name__ == "__main__":
    sys.exit(main())
