"""``torchrbm report``: write a run directory's report.html."""

from __future__ import annotations

import argparse

from ..report import write_report


def cmd_report(args: argparse.Namespace) -> int:
    print(f"wrote {write_report(args.run_dir)}")
    return 0
