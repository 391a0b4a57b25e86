"""Criterion status codes and the rules that turn a raw status into the one the statistics count.

The mask matrix stores the *raw* status of each subject on each criterion, so that unknown policies
and assumptions can change without evaluating anything again:

    FAIL = 0      the subject is excluded by the criterion
    PASS = 1      the subject stays eligible
    UNKNOWN = 2   the data cannot decide (a missing value, a too-short event history)
    ASSUMED = 3   the criterion is not computable; every subject takes its declared assumption

`resolve` maps a raw code to PASS / FAIL / UNKNOWN through a criterion's unknown policy ("unknown"
keeps it, "pass" and "fail" decide it) and, for ASSUMED, through its assumption ("pass" or "fail").
"""

from __future__ import annotations

import numpy as np

from explorer.errors import DefinitionError

FAIL, PASS, UNKNOWN, ASSUMED = 0, 1, 2, 3
STATUS_NAMES = {FAIL: "fail", PASS: "pass", UNKNOWN: "unknown", ASSUMED: "assumed"}

UNKNOWN_POLICIES = ("unknown", "pass", "fail")
ASSUMPTIONS = ("pass", "fail")
DEFAULT_UNKNOWN_POLICY = "unknown"  # keep it visible: a missing value neither passes nor fails silently
DEFAULT_ASSUMPTION = "pass"         # a criterion the data cannot check is assumed to be checked at the visit

_POLICY_CODE = {"unknown": UNKNOWN, "pass": PASS, "fail": FAIL}


def check_policy(policy: str, *, criterion: str | None = None) -> str:
    if policy not in UNKNOWN_POLICIES:
        raise DefinitionError(f"unknown policy {policy!r}; use one of {list(UNKNOWN_POLICIES)}",
                              criterion=criterion, field="unknown")
    return policy


def check_assumption(assumption: str, *, criterion: str | None = None) -> str:
    if assumption not in ASSUMPTIONS:
        raise DefinitionError(f"assumption {assumption!r}; use one of {list(ASSUMPTIONS)}",
                              criterion=criterion, field="assumption")
    return assumption


def resolution_table(unknown_policy: str, assumption: str) -> np.ndarray:
    """A 4-entry lookup: raw code -> resolved code (PASS, FAIL or UNKNOWN)."""
    table = np.array([FAIL, PASS, UNKNOWN, UNKNOWN], dtype=np.int8)
    table[UNKNOWN] = _POLICY_CODE[check_policy(unknown_policy)]
    table[ASSUMED] = _POLICY_CODE[check_assumption(assumption)]
    return table


def status_from_truth(truth_codes: np.ndarray, kind: str) -> np.ndarray:
    """Truth codes of the expression (1 true, 0 false, 2 unknown) -> raw status codes.

    An inclusion expression says who is included (true = PASS); an exclusion expression says who is
    excluded (true = FAIL). Unknown stays unknown either way.
    """
    codes = np.asarray(truth_codes, dtype=np.int8)
    if kind == "inclusion":
        return codes.copy()
    if kind == "exclusion":
        # 0 <-> 1 and 2 stays: flip the low bit where the code is known
        return codes ^ (codes != UNKNOWN).view(np.int8)
    raise DefinitionError(f"criterion kind {kind!r}; use 'inclusion' or 'exclusion'", field="kind")
