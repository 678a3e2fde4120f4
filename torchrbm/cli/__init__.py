"""The ``torchrbm`` command: train, evaluate, sample from and inpaint with restricted Boltzmann machines.

One module per job: :mod:`.parser` (the options), :mod:`.options` (``train``'s choices),
:mod:`.data` (reading ``--data`` and its splits), :mod:`.models` (building and loading models),
:mod:`.output` (printing results), :mod:`.figures` and :mod:`.prediction`, and one module per
subcommand (:mod:`.train`, :mod:`.evaluate`, :mod:`.sample`, :mod:`.inpaint`, :mod:`.scan`,
:mod:`.report`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import parser as _parser
from .evaluate import cmd_evaluate
from .inpaint import cmd_inpaint
from .report import cmd_report
from .sample import cmd_sample
from .scan import cmd_scan
from .train import cmd_train

__all__ = ["build_parser", "main"]

#: What runs each subcommand.
COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "sample": cmd_sample, "inpaint": cmd_inpaint,
            "scan": cmd_scan, "report": cmd_report}


def build_parser() -> argparse.ArgumentParser:
    """The ``torchrbm`` command line."""
    return _parser.build_parser(COMMANDS)


def main(argv: list[str] | None = None) -> int:
    """Run ``torchrbm`` with ``argv`` (default: the command line); the exit status."""
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, not at exit: a pipe's buffered output meets a broken pipe inside the try
    except BrokenPipeError:  # the reader of the output went away (`... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush cannot fail
        return 141  # 128 + SIGPIPE, what a shell reports for a command ended by a broken pipe


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:  # messages on stderr, unless the caller set up logging
        logging.basicConfig(format="torchrbm: %(message)s")
    logging.getLogger("torchrbm").setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    try:
        return args.func(args)
    except BrokenPipeError:
        raise
    except (ValueError, TypeError, OSError, FloatingPointError, ImportError, MemoryError) as err:
        print(f"torchrbm {args.command}: error: {err}", file=sys.stderr)
        return 2
