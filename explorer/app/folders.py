"""Where a dashboard reads from: relative paths from the folder it was started in, and (served to others)
only under its allowed folders. `trial-explorer dashboard` passes both through the environment."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR_VARIABLE = "TRIAL_EXPLORER_BASE_DIR"  # where relative paths are read from (the dashboard's start folder)
ROOTS_VARIABLE = "TRIAL_EXPLORER_ROOTS"        # folders a served dashboard may read, separated by os.pathsep


def base_dir() -> Path:
    """The folder relative data and trial paths are read from: where the dashboard was started."""
    return Path(os.environ.get(BASE_DIR_VARIABLE) or os.getcwd()).resolve()


def served_roots() -> list[Path]:
    """The folders a served dashboard may read: TRIAL_EXPLORER_ROOTS, else the folder it was started from,
    plus the bundled trials (uploads are added as they arrive)."""
    import explorer

    given = [Path(p).expanduser().resolve() for p in os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep) if p]
    return [*(given or [base_dir()]), Path(explorer.__file__).resolve().parent / "trials"]
