"""Make Debian's ROS 1 Python packages importable from a virtual environment.

Debian installs rospy and friends into ``/usr/lib/python3/dist-packages``, next to its own
numpy, yaml and so on. Putting that whole directory on a venv's path would let Debian's
copies shadow or mix with the venv's. Instead, :func:`link` makes a directory inside the
environment holding symbolic links to only the ROS packages (and the two pure-Python
libraries they need that the venv lacks), and a ``.pth`` file that appends it to
``sys.path`` — after site-packages, so the venv's own packages always win.

    python -m robots.ros.rospath --link     # done by ``make setup``
    python -m robots.ros.rospath --check    # exit 1 with install advice if ROS 1 is missing
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

#: where Debian's python3-* ROS packages live
DEBIAN_DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")
#: top-level modules that ``import rospy, actionlib, genpy, genmsg`` and the message
#: packages load (measured with ``python -X importtime`` on Debian 12); catkin_pkg needs
#: pyparsing, which the venv does not otherwise have
PYTHON_PACKAGES = (
    "rospy", "rosgraph", "roslib", "rospkg", "roscpp", "rosgraph_msgs", "genpy", "genmsg",
    "actionlib", "actionlib_msgs", "std_msgs", "geometry_msgs", "sensor_msgs",
    "trajectory_msgs", "catkin", "catkin_pkg", "pyparsing", "tf2_ros", "tf2_py", "tf2_msgs",
)
#: Debian packages that provide them, and ``roscore``
APT_PACKAGES = (
    "ros-core", "python3-rospy", "python3-actionlib", "python3-actionlib-msgs",
    "python3-trajectory-msgs", "python3-sensor-msgs", "python3-genpy", "python3-genmsg",
    "python3-geometry-msgs", "python3-tf2-ros",
)
LINK_DIR = "ros1-python"  #: under ``sys.prefix``
PTH_FILE = "tamp_ros1.pth"  #: in the environment's site-packages

INSTALL_HINT = ("install Debian's ROS 1 packages with 'sudo make sysdeps' (or: apt-get install "
                + " ".join(APT_PACKAGES) + "), then run 'make setup'")


@dataclass(frozen=True)
class RosCheck:
    """Whether this interpreter can run the ROS 1 parts."""

    ok: bool
    missing: tuple[str, ...]  #: what is absent: Python modules and/or executables
    message: str


def check() -> RosCheck:
    """Can this interpreter import rospy & co., and is ``roscore`` on the PATH?"""
    missing = [m for m in ("rospy", "actionlib", "genpy", "genmsg", "trajectory_msgs",
                           "sensor_msgs") if importlib.util.find_spec(m) is None]
    missing += [exe for exe in ("roscore", "rosmaster") if shutil.which(exe) is None]
    if not missing:
        return RosCheck(True, (), "ROS 1 is available")
    return RosCheck(False, tuple(missing),
                    f"ROS 1 is not usable from {sys.executable}: missing {', '.join(missing)}; "
                    + INSTALL_HINT)


@dataclass(frozen=True)
class LinkResult:
    link_dir: Path
    pth_file: Path
    linked: tuple[str, ...]
    absent: tuple[str, ...]  #: packages not found in the source directory


def link(prefix: Path | None = None, source: Path = DEBIAN_DIST_PACKAGES) -> LinkResult:
    """Create ``PREFIX/ros1-python`` with links to :data:`PYTHON_PACKAGES` found in
    ``source`` and a ``.pth`` file pointing at it (``prefix`` defaults to the running
    interpreter's environment). Idempotent; stale links are replaced."""
    prefix = Path(prefix or sys.prefix)
    if prefix == Path(sys.prefix):
        site = Path(sysconfig.get_paths()["purelib"])
    else:
        site = Path(sysconfig.get_paths(vars={"base": str(prefix),
                                              "platbase": str(prefix)})["purelib"])
    link_dir = prefix / LINK_DIR
    link_dir.mkdir(parents=True, exist_ok=True)
    linked, absent = [], []
    for name in PYTHON_PACKAGES:
        target = source / name
        dest = link_dir / name
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        if target.is_dir():
            dest.symlink_to(target, target_is_directory=True)
            linked.append(name)
        else:
            absent.append(name)
    site.mkdir(parents=True, exist_ok=True)
    pth = site / PTH_FILE
    pth.write_text(f"{link_dir.resolve()}\n")
    return LinkResult(link_dir, pth, tuple(linked), tuple(absent))


def ros_subprocess_env(base: dict[str, str], master_uri: str, ip: str = "127.0.0.1",
                       log_dir: Path | None = None) -> dict[str, str]:
    """Environment for a ROS 1 subprocess (roscore, a node) on ``master_uri``; ROS_IP makes
    the node advertise and bind ``ip`` (loopback by default) instead of the hostname."""
    env = dict(base)
    env.update(ROS_MASTER_URI=master_uri, ROS_IP=ip)
    env.pop("ROS_HOSTNAME", None)  # it would take precedence over ROS_IP
    if log_dir is not None:
        env.update(ROS_LOG_DIR=str(log_dir), ROS_HOME=str(log_dir))
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m robots.ros.rospath", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--link", action="store_true",
                        help="link Debian's ROS 1 packages into this environment")
    parser.add_argument("--check", action="store_true", help="exit 1 if ROS 1 is not usable")
    args = parser.parse_args(argv)
    if args.link:
        if not DEBIAN_DIST_PACKAGES.is_dir() or not (DEBIAN_DIST_PACKAGES / "rospy").is_dir():
            print(f"rospath: rospy not found under {DEBIAN_DIST_PACKAGES}; {INSTALL_HINT}",
                  file=sys.stderr)
            return 1
        res = link()
        print(f"rospath: linked {len(res.linked)} ROS 1 packages into {res.link_dir}"
              + (f" (not found: {', '.join(res.absent)})" if res.absent else ""))
    if args.check or not args.link:
        # a fresh interpreter: this one may have imported before the .pth existed
        code = "import sys; from robots.ros.rospath import check; r = check(); " \
               "print(r.message); sys.exit(0 if r.ok else 1)"
        return subprocess.call([sys.executable, "-c", code])
    return 0


if __name__ == "__main__":
    sys.exit(main())
