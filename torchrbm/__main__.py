"""``python -m torchrbm`` runs the command-line tool."""

from .cli import main

raise SystemExit(main())
