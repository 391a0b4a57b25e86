"""`trial-explorer`: the parser, the console script `main`, and the one exit code each kind of error gets.

Errors are one line on stderr, `error: <what and where>`, and never a traceback; `--debug` adds the
traceback and the full message (an expression with a caret under the column it names).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import NoReturn

from explorer.cli import dashboard, definitions, funnel, outcomes, registry, synth
from explorer.errors import ExplorerError, ExpressionError

EXIT_OK = 0
EXIT_INTERNAL = 1     # a bug in the explorer, not in the input: --debug shows the traceback to report
EXIT_INPUT = 2        # bad input: a project error (explorer.errors), a bad argument, a file that cannot be read
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

COMMAND_GROUPS = (definitions, funnel, outcomes, synth, registry, dashboard)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (the README's contract), not usage plus error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="trial-explorer",
                           description="Explore clinical-trial eligibility funnels and outcomes.")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, also show the traceback and the full message")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def one_line(error: BaseException) -> str:
    """The error's message on one line.

    An ExpressionError's message ends with the expression and a caret on lines of their own; its first
    line already names the file, criterion and column, so only that is kept. Other messages are joined.
    """
    text = str(error)
    if isinstance(error, ExpressionError):
        return text.split("\n", 1)[0].strip()
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _report(error: BaseException, line: str, debug: bool) -> None:
    if debug:
        traceback.print_exception(error, file=sys.stderr)
        print(f"error: {error}", file=sys.stderr)  # the full message, caret included
    else:
        print(f"error: {line}", file=sys.stderr)


def _run(args: argparse.Namespace) -> tuple[int, BaseException | None, str]:
    """(exit code, the error if any, its one-line message)."""
    try:
        return int(args.handler(args) or EXIT_OK), None, ""
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK, None, ""
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED, None, ""
    except ExplorerError as error:
        return EXIT_INPUT, error, one_line(error)
    # A file that cannot be opened or written (OSError names it), or a value a library below the explorer
    # (pandas, pyarrow) refused while reading input: the input's problem, not a bug.
    except (OSError, ValueError) as error:
        return EXIT_INPUT, error, one_line(error)
    except Exception as error:  # a bug, not bad input: still one line, with a way to get the details
        return EXIT_INTERNAL, error, (f"internal error ({type(error).__name__}: {one_line(error)}); "
                                      "rerun with --debug for the traceback")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (EXIT_INPUT, one line): a code, as for any error
        return int(stop.code or EXIT_OK)
    # Warnings of the libraries below (NumPy, pandas) are held back, so a failed run still prints one line:
    # after a success (or with --debug) each distinct one is shown once, on one line.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, error, line = _run(args)
    if error is None or args.debug:
        for message in dict.fromkeys(one_line(w.message) for w in caught):
            print(f"warning: {message}", file=sys.stderr)
    if error is not None:
        _report(error, line, args.debug)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
