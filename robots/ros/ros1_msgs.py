"""ROS 1 message classes for ``control_msgs/FollowJointTrajectory``, made at run time.

Debian ships rospy, actionlib and trajectory_msgs but not control_msgs. The action's
interface (field names, types, constants) is public; it is written out below from the
``control_msgs`` package's interface definition (ROS 1 Noetic: ``FollowJointTrajectory.action``
and ``JointTolerance.msg``) and turned into real genpy message classes with Debian's
genmsg/genpy, in a cache directory. Their MD5 sums equal those of the real package, so they
interoperate on the wire with real ``joint_trajectory_controller`` action servers; a test
checks the sums against the published ones.

If a real ``control_msgs`` Python package is importable, it is used instead.

Needs rospy's Python packages (see :mod:`robots.ros.rospath`); import this module only in
code that talks ROS 1.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

PACKAGE = "control_msgs"

#: control_msgs/JointTolerance (ROS 1): how far a joint may stray from its set-point.
#: 0 keeps the controller's default, a negative value removes the limit.
JOINT_TOLERANCE = """\
string name
float64 position      # rad (revolute) or m (prismatic)
float64 velocity      # rad/s or m/s
float64 acceleration  # rad/s^2 or m/s^2
"""

#: control_msgs/FollowJointTrajectory.action (ROS 1): goal --- result --- feedback.
FOLLOW_JOINT_TRAJECTORY = """\
# A zero header stamp in the trajectory means "start now".
trajectory_msgs/JointTrajectory trajectory
JointTolerance[] path_tolerance   # checked while moving; violation -> PATH_TOLERANCE_VIOLATED
JointTolerance[] goal_tolerance   # checked at the end; violation -> GOAL_TOLERANCE_VIOLATED
duration goal_time_tolerance      # extra time allowed to settle within goal_tolerance
---
int32 error_code
int32 SUCCESSFUL = 0
int32 INVALID_GOAL = -1
int32 INVALID_JOINTS = -2
int32 OLD_HEADER_TIMESTAMP = -3
int32 PATH_TOLERANCE_VIOLATED = -4
int32 GOAL_TOLERANCE_VIOLATED = -5
string error_string
---
Header header
string[] joint_names
trajectory_msgs/JointTrajectoryPoint desired
trajectory_msgs/JointTrajectoryPoint actual
trajectory_msgs/JointTrajectoryPoint error
"""

#: published MD5 sums of the real package's messages (wire compatibility is checked
#: against these in the tests)
KNOWN_MD5 = {
    "FollowJointTrajectoryGoal": "69636787b6ecbde4d61d711979bc7ecb",
    "FollowJointTrajectoryResult": "493383b18409bfb604b4e26c676401d2",
}


def action_messages(name: str, action_text: str) -> dict[str, str]:
    """The seven .msg texts actionlib derives from one .action text (actionlib's fixed
    convention: goal, result, feedback, and their stamped ``Action*`` wrappers)."""
    parts = action_text.split("\n---\n")
    if len(parts) != 3:
        raise ValueError(f"{name}.action must have three sections separated by '---'")
    goal, result, feedback = parts
    return {
        f"{name}Goal": goal,
        f"{name}Result": result,
        f"{name}Feedback": feedback,
        f"{name}ActionGoal": f"Header header\nactionlib_msgs/GoalID goal_id\n{name}Goal goal\n",
        f"{name}ActionResult": ("Header header\nactionlib_msgs/GoalStatus status\n"
                                f"{name}Result result\n"),
        f"{name}ActionFeedback": ("Header header\nactionlib_msgs/GoalStatus status\n"
                                  f"{name}Feedback feedback\n"),
        f"{name}Action": (f"{name}ActionGoal action_goal\n{name}ActionResult action_result\n"
                          f"{name}ActionFeedback action_feedback\n"),
    }


def definitions() -> dict[str, str]:
    """Every control_msgs message this module provides: short name -> .msg text."""
    return {"JointTolerance": JOINT_TOLERANCE,
            **action_messages("FollowJointTrajectory", FOLLOW_JOINT_TRAJECTORY)}


def _dependency_texts() -> dict[str, str]:
    """.msg texts of the installed messages ours embed, read back from the generated
    classes' ``_full_text`` (Debian installs the Python classes but not the .msg files)."""
    import actionlib_msgs.msg
    import trajectory_msgs.msg

    texts: dict[str, str] = {}
    for cls in (trajectory_msgs.msg.JointTrajectory, actionlib_msgs.msg.GoalStatus):
        blocks = cls._full_text.split("\n" + "=" * 80 + "\n")
        texts[cls._type] = blocks[0]
        for block in blocks[1:]:
            header, _, body = block.partition("\n")
            texts[header.removeprefix("MSG: ").strip()] = body
    return texts


def _generate(out: Path) -> None:
    """Write the Python package ``control_msgs`` (``msg`` subpackage) under ``out``."""
    import genmsg
    import genmsg.msg_loader
    import genpy.generator

    context = genmsg.msg_loader.MsgContext.create_default()
    for full_name, text in _dependency_texts().items():
        genmsg.msg_loader.load_msg_from_string(context, text, full_name)
    ours = definitions()
    specs = {name: genmsg.msg_loader.load_msg_from_string(context, text, f"{PACKAGE}/{name}")
             for name, text in ours.items()}
    msg_dir = out / PACKAGE / "msg"
    msg_dir.mkdir(parents=True)
    (out / PACKAGE / "__init__.py").write_text(
        '"""control_msgs messages generated by robots.ros.ros1_msgs."""\n')
    for name, spec in specs.items():
        code = "\n".join(genpy.generator.msg_generator(context, spec, {}))
        (msg_dir / f"_{name}.py").write_text(code + "\n")
    (msg_dir / "__init__.py").write_text(
        "".join(f"from ._{name} import *\n" for name in ours))


def cache_root() -> Path:
    """Where generated classes are kept: ``$XDG_CACHE_HOME/tamp/ros1_msgs`` (default
    ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tamp" / "ros1_msgs"


def generated_package(root: Path | None = None) -> Path:
    """Directory holding the generated ``control_msgs`` package, generating it once.

    The directory name is a hash of the definitions and the genpy version, so a changed
    definition never reuses stale code. Generation goes to a temporary directory that is
    renamed into place, so concurrent processes (controller and client start together)
    never see a half-written package.
    """
    import genpy

    root = root or cache_root()
    key = hashlib.sha256(repr((sorted(definitions().items()),
                               getattr(genpy, "__version__", ""))).encode()).hexdigest()[:16]
    final = root / key
    if (final / PACKAGE / "msg" / "__init__.py").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".gen-", dir=root))
    _generate(tmp)
    try:
        os.rename(tmp, final)
    except OSError:  # another process won the race; its copy is identical
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return final


def load(root: Path | None = None) -> ModuleType:
    """The ``control_msgs.msg`` module: the real one if installed, else the generated one.

    The generated package is registered in ``sys.modules`` under its real name because
    genpy's code (and rospy's type lookup) import it as ``control_msgs.msg``.
    """
    existing = sys.modules.get(f"{PACKAGE}.msg")
    if existing is not None:
        return existing
    try:
        module = importlib.import_module(f"{PACKAGE}.msg")
        if hasattr(module, "FollowJointTrajectoryAction"):
            return module
    except ImportError:
        pass
    sys.modules.pop(PACKAGE, None)
    package_dir = generated_package(root) / PACKAGE
    spec = importlib.util.spec_from_file_location(
        PACKAGE, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)])
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.msg")
