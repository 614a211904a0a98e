"""The Docker image has every system library the installed wheels load.

No container engine can pull a base image here, so the image is checked from this
machine's own package database instead: every shared object that ``pip install .``
brings (the project's requirements, without extras) is run through ``ldd``; each
library it loads from outside the virtual environment belongs to a Debian package
(``dpkg -S``), and that package must be installed in the image: by the Dockerfile's
``apt-get install`` line, or as a dependency of it or of what every Debian image holds
(its Essential packages and apt), following Depends in the local dpkg database.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: shared objects that load only beside a framework the project does not install (open3d's
#: TensorFlow and PyTorch-CUDA ops, numba's TBB pool): their missing libraries are expected
OPTIONAL = ("open3d_tf_ops.so", "open3d_torch_ops.so", "tbbpool.")

pytestmark = pytest.mark.skipif(shutil.which("dpkg") is None or shutil.which("ldd") is None,
                                reason="needs a Debian system (dpkg, ldd)")


def _requirements(name: str, seen: dict) -> dict:
    from packaging.requirements import Requirement

    key = name.lower().replace("_", "-")
    if key in seen:
        return seen
    try:
        seen[key] = dist = md.distribution(name)
    except md.PackageNotFoundError:
        return seen
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            _requirements(req.name, seen)
    return seen


def _shared_objects() -> list[Path]:
    out = []
    for dist in _requirements("tamp", {}).values():
        out += [Path(dist.locate_file(f)).resolve() for f in dist.files or []
                if re.search(r"\.so(\.|$)", f.name)]
    return out


def _dpkg(args: list[str]) -> str:
    return subprocess.run(["dpkg", *args], capture_output=True, text=True).stdout


def _package_of(lib: str) -> str | None:
    for path in (lib, re.sub(r"^/usr/lib/", "/lib/", lib), re.sub(r"^/lib/", "/usr/lib/", lib)):
        owner = _dpkg(["-S", path]).split(":", 1)[0].strip()
        if owner:
            return owner
    return None


def _depends_closure(packages: set[str]) -> set[str]:
    todo, done = list(packages), set()
    while todo:
        p = todo.pop()
        if p in done:
            continue
        done.add(p)
        fields = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", p],
                                capture_output=True, text=True).stdout
        for alternative in fields.split(","):
            name = alternative.split("|")[0].strip().split(" ")[0].split(":")[0]
            if name:
                todo.append(name)
    return done


def dockerfile_packages(text: str) -> set[str]:
    """The packages of the Dockerfile's ``apt-get install`` line."""
    m = re.search(r"apt-get install[^\n]*?--no-install-recommends((?:\\\n|[^\n&])*)", text)
    assert m, "no apt-get install line in the Dockerfile"
    return {w for w in m.group(1).replace("\\", " ").split() if not w.startswith("-")}


def test_the_dockerfile_parser_reads_the_install_line():
    text = ("RUN apt-get update \\\n    && apt-get install -y --no-install-recommends "
            "libfoo1 \\\n       libbar2 make \\\n    && rm -rf /var/lib/apt/lists/*\n")
    assert dockerfile_packages(text) == {"libfoo1", "libbar2", "make"}


@pytest.mark.slow
def test_the_image_installs_every_system_library_the_wheels_load():
    venv = Path(sys.prefix).resolve()
    needed: dict[str, set[str]] = {}
    missing = []
    for so in _shared_objects():
        listing = subprocess.run(["ldd", str(so)], capture_output=True, text=True).stdout
        for lib, where in re.findall(r"^\s*(\S+) => (\S+)", listing, re.M):
            if where == "not":
                # a wheel's vendored library beside it (scipy.libs/: libgfortran needs
                # the libquadmath next to it, which the extension modules load first)
                if not so.name.startswith(OPTIONAL) and not (so.parent / lib).exists():
                    missing.append(f"{so.name} needs {lib}")
                continue
            path = Path(where).resolve()
            if not path.is_relative_to(venv):
                needed.setdefault(str(path), set()).add(so.name)
    assert missing == []
    assert needed, "ldd found no system library at all: the check checks nothing"
    base = {line.split()[0] for line in subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Essential}\n"], capture_output=True,
        text=True).stdout.splitlines() if line.endswith(" yes")} | {"apt"}
    image = _depends_closure(base | dockerfile_packages(
        (ROOT / "docker" / "Dockerfile").read_text()))
    uncovered = {}
    for lib, users in needed.items():
        owner = _package_of(lib)
        if owner not in image:
            uncovered[owner or lib] = sorted(users)[:3]
    assert uncovered == {}, f"packages the image lacks (-> a library that needs them): {uncovered}"
