"""``tamp bench cli``: how long the command line takes to answer, and how much memory it
takes, per command, against building the whole parser (what every command paid before
the command line built only the parser it needs), in the same run.

Each case runs ``--runs`` times in a fresh interpreter; wall time is measured around the
child, peak memory is the child's own high-water resident set (``VmHWM`` of
``/proc/self/status``, read as it exits: a fork's copy of this process before the exec
does not count).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

#: what each case runs (after the wrapper's imports: sys, atexit)
CASES = {
    "tamp --help": "from experiments.cli import main; main(['--help'])",
    "tamp tasks": "from experiments.cli import main; main(['tasks'])",
    "tamp deploy --help": "from experiments.cli import main; main(['deploy', '--help'])",
    "baseline: the whole parser built, then tamp tasks":
        "from experiments.cli import build_parser; a = build_parser().parse_args(['tasks']); "
        "a.func(a)",
}
WRAPPER = """import atexit, sys
def _hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            sys.stderr.write('\\nVMHWM ' + line.split()[1] + '\\n')
atexit.register(_hwm)
try:
    {code}
except SystemExit:
    pass
"""


def measure(code: str, runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds and peak RSS (MB) of ``code`` in a fresh interpreter, ``runs`` times."""
    walls, rss = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", WRAPPER.format(code=code)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        walls.append(time.perf_counter() - t0)
        marks = [line for line in run.stderr.splitlines() if line.startswith("VMHWM ")]
        if run.returncode != 0 or not marks:
            raise RuntimeError(f"{code!r} failed ({run.returncode}): {run.stderr[-500:]}")
        rss.append(int(marks[-1].split()[1]) / 1024.0)  # kB
    return walls, rss


def report(runs: int, progress=None) -> str:
    rows = []
    for name, args in CASES.items():
        if progress:
            progress(name)
        walls, rss = measure(args, runs)
        rows.append((name, statistics.median(walls), max(walls), statistics.median(rss)))
    base = rows[-1][1]
    lines = [f"Command: `tamp bench cli --runs {runs}`", "",
             "| command | median (s) | max (s) | peak memory median (MB) | vs the whole parser |",
             "|---|---|---|---|---|"]
    for name, med, worst, mem in rows:
        lines.append(f"| {name} | {med:.2f} | {worst:.2f} | {mem:.0f} | {base / med:.1f}x faster |"
                     if not name.startswith("baseline") else
                     f"| {name} | {med:.2f} | {worst:.2f} | {mem:.0f} | 1x |")
    return "\n".join(lines) + "\n"
