"""A pre-heated kernel can build its dashboard at low CPU priority, so that it does not compete with a visitor's clicks.

Voilà refills its kernel pool after a page takes a kernel: the new kernel runs the dashboard notebook, which
at 10^6 subjects is about 5 s of CPU for the state alone, while the visitor who just arrived starts clicking in
their own kernel, and on 2 cores the two compete (benchmarks/results/dashboard.click.md).

`low_priority(build)` runs `build` in a thread whose nice value is raised (`os.nice` changes only the calling
thread on Linux), and waits for it: the kernel's main thread, which serves the visitor once the kernel is
taken, keeps its priority. Lowering a priority is one-way without privilege, which is why it is never the main
thread's. It acts only in a kernel Voilà pre-heats (`VOILA_PREHEAT`, set by Voilà for its pool kernels) when the
dashboard's server asks for it (`PREHEAT_NICE_VARIABLE`, explorer.app.voila_server; off by default, since it
measured no faster clicks at 10^6, benchmarks/results/dashboard.click.md; when on, for every pool kernel); a
visitor who waits for their kernel, a notebook or a test builds at full priority.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Set by explorer.app.voila_server for its kernels: the nice value to add for the pre-heated build ("0": none).
PREHEAT_NICE_VARIABLE = "TRIAL_EXPLORER_PREHEAT_NICE"
# Voilà sets it to "True" in the environment of the kernels it starts for its pool.
VOILA_PREHEAT_VARIABLE = "VOILA_PREHEAT"


def preheat_nice() -> int:
    """How much lower this kernel's pre-heated build runs: 0 unless Voilà pre-heats it and the server asks."""
    if os.environ.get(VOILA_PREHEAT_VARIABLE) != "True":
        return 0
    try:
        return max(0, int(os.environ.get(PREHEAT_NICE_VARIABLE, "0")))
    except ValueError:  # a server's setting, never a visitor's input: a bad one builds at full priority
        return 0


def low_priority(build: Callable[[], T]) -> T:
    """`build()`, in a thread of lower priority when this kernel is being pre-heated (see the module)."""
    nice = preheat_nice()
    if not nice or not hasattr(os, "nice"):
        return build()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            os.nice(nice)  # this thread only (Linux); it ends with the build
            outcome["value"] = build()
        except BaseException as error:  # raised again in the caller's thread, as build() would
            outcome["error"] = error

    thread = threading.Thread(target=run, name="pre-heat build", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
