"""Write docs/cli.md, the reference of the ``torchrbm`` command, from its argparse parser.

Run ``python docs/cli_reference.py`` after changing an option; a test checks that docs/cli.md is current.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from torchrbm._utils.progress import DEFAULT_INTERVAL, INTERVAL_VARIABLE
from torchrbm.cli import build_parser

PAGE = Path(__file__).with_name("cli.md")


#: How the commands report progress (torchrbm/progress.py), between the table of commands and the commands.
PROGRESS = f"""
## Progress, messages and results

Results go to stdout; progress and messages go to stderr. On a terminal the long phases (training epochs and
their batches, AIS and reverse AIS, the full pseudo-log-likelihood, Gibbs sampling, inpainting) show tqdm bars.
When stderr is not a terminal (a pipe, a log file, a batch job) there are no bars, carriage returns or escape
codes: `train` writes one line per epoch, such as
`training: epoch 3 of 50 (2.1 s, about 49 s left); recon=0.0412`, and every other phase one line at most
every {DEFAULT_INTERVAL:g} seconds, and one when it ends if it wrote any before, so that short phases write nothing (the
environment variable `{INTERVAL_VARIABLE}` sets another interval). `--quiet` silences the progress and
the messages, not the warnings, errors or results.
"""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _option(action: argparse.Action) -> str:
    names = ", ".join(action.option_strings) or action.dest
    if action.nargs == 0:
        return f"`{names}`"
    if action.choices is not None:
        value = "{" + ",".join(str(choice) for choice in action.choices) + "}"
    else:
        value = action.metavar or action.dest.upper()
    if action.nargs == "+":
        value += " ..."
    return f"`{names} {_cell(value)}`" if action.option_strings else f"`{names}`"


def _subcommand(name: str, parser: argparse.ArgumentParser, summary: str) -> list[str]:
    parser.formatter_class = functools.partial(argparse.HelpFormatter, width=100)  # not the terminal's
    lines = [f"## torchrbm {name}", "", _cell(parser.description or summary), "",
             "```text", parser.format_usage().strip(), "```", "",
             "| argument | meaning |", "|---|---|"]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        required = " (required)" if action.required and action.option_strings else ""
        lines.append(f"| {_option(action)} | {_cell(action.help or '')}{required} |")
    return [*lines, ""]


def render() -> str:
    """The whole page, as Markdown."""
    parser = build_parser()
    subparsers = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    summaries = {choice.dest: choice.help for choice in subparsers._choices_actions}
    lines = ["# Command-line reference", "",
             "Generated from the `torchrbm` command's own parser by `python docs/cli_reference.py`; "
             "`torchrbm COMMAND --help` prints the same.", "",
             "| command | what it does |", "|---|---|"]
    lines += [f"| [`torchrbm {name}`](#torchrbm-{name}) | {_cell(summaries[name])} |" for name in subparsers.choices]
    lines += ["", *PROGRESS.strip().splitlines(), ""]
    for name, sub in subparsers.choices.items():
        lines += _subcommand(name, sub, summaries[name])
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    PAGE.write_text(render())
    sys.stdout.write(f"wrote {PAGE}\n")
