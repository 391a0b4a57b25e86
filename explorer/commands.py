"""Subcommands of `trial-explorer` beyond the trial-definition ones in explorer.cli.

Each registrar adds one subparser; the handlers live next to the code they drive, so the CLI stays
a thin layer of argument parsing.
"""

from __future__ import annotations

REGISTRARS: list = []
