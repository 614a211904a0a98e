"""Optional backend: Fast Downward, as shipped by the ``up-fast-downward`` package.

Not a dependency of the project (``pip install unified-planning up-fast-downward``). The
Fast Downward driver bundled in that package runs on the original PDDL files in a
subprocess (the unified-planning PDDL reader is bypassed: it rejects typed domains that
Fast Downward itself accepts), with the ``lama-first`` configuration. Its plan is mapped
back onto this project's grounded actions, so the result is the same SearchResult as the
built-in search and a step the grounder does not know is reported, not trusted.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tamp.symbolic.grounding import GroundTask
from tamp.symbolic.search import SearchResult
from tamp.symbolic.validate import validate

#: Fast Downward exit codes (fast-downward.org/ExitCodes) that mean "no plan", and why
_NO_PLAN = {10: "the translator proved the task unsolvable",
            11: "search space exhausted: no plan exists (Fast Downward)",
            12: "Fast Downward's incomplete search found no plan",
            21: "time budget exhausted in the Fast Downward translator",
            23: "time budget exhausted in the Fast Downward search",
            20: "Fast Downward ran out of memory", 22: "Fast Downward ran out of memory",
            24: "Fast Downward ran out of memory and time"}


def available() -> bool:
    """Whether ``up_fast_downward`` is importable."""
    return importlib.util.find_spec("up_fast_downward") is not None


def _driver() -> Path:
    spec = importlib.util.find_spec("up_fast_downward")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("up_fast_downward is not installed: "
                           "pip install unified-planning up-fast-downward")
    return Path(list(spec.submodule_search_locations)[0]) / "downward" / "fast-downward.py"


def solve(domain: str | Path, problem: str | Path, task: GroundTask,
          time_budget_s: float) -> SearchResult:
    """Run Fast Downward (lama-first) on the files; ``task`` is their grounding."""
    t0 = time.perf_counter()

    def result(plan, reason: str) -> SearchResult:
        # Fast Downward does not report its node counts in a stable format: 0 here
        return SearchResult(tuple(plan), not reason, reason, 0, 0, time.perf_counter() - t0)

    with tempfile.TemporaryDirectory(prefix="tamp-fd-") as tmp:
        plan_file = Path(tmp) / "plan"
        cmd = [sys.executable, str(_driver()), "--plan-file", str(plan_file),
               "--overall-time-limit", f"{max(1, int(time_budget_s))}s",
               "--log-level", "warning", "--alias", "lama-first",
               str(Path(domain).resolve()), str(Path(problem).resolve())]
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True,
                                  timeout=time_budget_s + 10)
        except subprocess.TimeoutExpired:
            return result((), f"time budget of {time_budget_s:g} s exhausted (Fast Downward)")
        if proc.returncode in _NO_PLAN:
            return result((), _NO_PLAN[proc.returncode])
        if proc.returncode != 0 or not plan_file.is_file():
            tail = " ".join((proc.stdout + proc.stderr).split()[-30:])
            return result((), f"Fast Downward failed with exit code {proc.returncode}: {tail}")
        lines = plan_file.read_text().splitlines()
    by_label = {a.label.lower(): a for a in task.actions}
    plan = []
    for line in lines:
        line = line.strip().lower()
        if not line or line.startswith(";"):
            continue
        if line not in by_label:
            return result((), f"Fast Downward's plan step {line} is not a reachable ground "
                          "action of this task")
        plan.append(by_label[line])
    check = validate(task, plan)
    if not check:
        return result((), f"Fast Downward's plan does not replay on this task: {check.reason}")
    return result(plan, "")
