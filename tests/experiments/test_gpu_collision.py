"""``experiments/gpu_collision.py`` runs from the repository alone: on the CPU device, in
a Python where pinocchio, PyBullet, open3d, gymnasium and ompl cannot be imported (the GPU
machine has none of them), it prints its table and finds torch and the kernel agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "gpu_collision.py"
BLOCKED = ("pinocchio", "pybullet", "open3d", "gymnasium", "ompl")

#: runs ``code`` in a Python where importing any of BLOCKED fails, then prints which
#: blocked names got into sys.modules and where tamp came from
WRAPPER = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(name + " is not installed on the GPU machine")
sys.meta_path.insert(0, Blocked())
try:
{code}
finally:
    print("LOADED", sorted(n for n in sys.modules if n.split(".")[0] in {blocked!r}))
    print("TAMP", getattr(sys.modules.get("tamp"), "__file__", None))
"""


def run_blocked(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """``code`` in a fresh isolated Python (no PYTHONPATH, not the repository as its
    working directory) with the BLOCKED modules unimportable."""
    wrapped = WRAPPER.format(blocked=BLOCKED, code="\n".join("    " + line for line in
                                                            code.strip().splitlines()))
    return subprocess.run([sys.executable, "-I", "-c", wrapped], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300)


def test_the_script_runs_without_pinocchio_or_a_simulator(tmp_path):
    argv = ["--device", "cpu", "--batches", "100,1000", "--repeats", "2", "--agree", "2000"]
    out = run_blocked(f"import runpy\nsys.argv = [{str(SCRIPT)!r}] + {argv!r}\n"
                      f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')", tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "LOADED []" in out.stdout
    assert f"TAMP {ROOT / 'tamp' / '__init__.py'}" in out.stdout
    rows = re.findall(r"^\| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d.]+)x \|$", out.stdout,
                      re.MULTILINE)
    assert [r[0] for r in rows] == ["100", "1,000"], out.stdout
    assert all(int(r[1].replace(",", "")) > 0 and int(r[2].replace(",", "")) > 0
               for r in rows)
    assert "first 2,000 configurations: **0 disagreements**" in out.stdout
    assert "compiled kernel, 1 CPU thread" in out.stdout
    assert "| torch on cpu, torch.compile (cfg/s) |" in out.stdout  # fused, by default
    assert "torch.compile failed" not in out.stderr


def test_the_blocked_imports_do_fail(tmp_path):
    """The check above can fail: a module that imports pinocchio is refused."""
    out = run_blocked(f"sys.path.insert(0, {str(ROOT)!r})\n"
                      "import tamp.geometry.kinematics", tmp_path)
    assert out.returncode != 0
    assert "ImportError: pinocchio is not installed on the GPU machine" in out.stderr


def test_a_missing_cuda_is_one_line_and_exit_2(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device cuda would run")
    out = subprocess.run([sys.executable, str(SCRIPT), "--device", "cuda"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "CUDA is not available" in out.stderr


def test_peak_fp32_is_the_published_figure_of_an_h100(monkeypatch):
    """The yardstick's peak from the device's properties: an H100 SXM (132 SMs, sm_90,
    1.98 GHz boost) has 67 TFLOP/s FP32 by NVIDIA's data sheet; without a clock (older
    torch) or for an unknown architecture it is not computed."""
    import types

    import torch

    from experiments import gpu_collision

    h100 = types.SimpleNamespace(major=9, minor=0, multi_processor_count=132,
                                 clock_rate=1_980_000)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: h100)
    peak, how = gpu_collision.peak_fp32(torch.device("cuda"))
    assert peak == pytest.approx(66.9e12, rel=1e-3) and "66.9 TFLOP/s" in how
    monkeypatch.setattr(h100, "clock_rate", 0)
    assert gpu_collision.peak_fp32(torch.device("cuda"))[0] is None
    assert gpu_collision.peak_fp32(torch.device("cpu")) == (None, "not computed (not a GPU)")
