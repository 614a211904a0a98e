"""Connecting ``tamp deploy`` to a robot: the checks on where it may connect, the safety
limits from the command line, the ROS transport and the gripper. Shared by the replay
(``--task``) and the closed loop (``--goal``, :mod:`experiments.deploy_goal`).
"""

from __future__ import annotations

import sys
from urllib.parse import urlparse

from experiments.options import UsageError


def check_gripper_host(spec: str, allow_remote: bool) -> None:
    """Check a --gripper spec (the driver's parser), and that its host is allowed."""
    from robots.robotiq.transport import parse_spec
    from robots.ros.transport import is_loopback_host

    try:
        host = getattr(parse_spec(spec), "host", None)
    except ValueError as err:
        raise UsageError(f"--gripper: {err}") from None
    if host is not None and not is_loopback_host(host) and not allow_remote:
        raise UsageError(f"--gripper host {host} is not a loopback address; pass "
                         "--allow-remote to talk to another machine")


def safety_config(args):
    from robots.ros.safety import SafetyConfig, WorkspaceBox

    try:
        box = WorkspaceBox()
        if args.workspace:
            v = [float(x) for x in args.workspace.split(",")]
            if len(v) != 6:
                raise ValueError("--workspace needs 6 numbers: X0,X1,Y0,Y1,Z0,Z1")
            box = WorkspaceBox((v[0], v[2], v[4]), (v[1], v[3], v[5]))
        return SafetyConfig(speed_scale=args.speed_scale, workspace=box)
    except ValueError as err:
        raise UsageError(f"{err}") from err


def transport_for(args):
    if args.ros1:
        from robots.ros.ros1 import Ros1Config, Ros1Transport

        return Ros1Transport(Ros1Config(
            master_uri=args.master or "http://127.0.0.1:11311", controller=args.controller,
            joint_states=args.joint_states, allow_remote=args.allow_remote,
            connect_timeout=args.timeout, state_timeout=args.timeout))
    from robots.ros.rosbridge import RosAuth, RosbridgeConfig, RosbridgeTransport

    auth = None
    parsed = urlparse(args.ros)
    if args.rosauth_secret_file:
        try:
            with open(args.rosauth_secret_file) as f:
                secret = f.read().strip()
        except OSError as err:
            raise UsageError(f"--rosauth-secret-file: {err}") from err
        auth = RosAuth.from_secret(secret, local_address(parsed.hostname, parsed.port or 9090),
                                   parsed.hostname)
    return RosbridgeTransport(RosbridgeConfig(
        url=args.ros, ros_version=args.ros_version or 1, controller=args.controller,
        joint_states=args.joint_states, allow_remote=args.allow_remote, auth=auth,
        connect_timeout=args.timeout, state_timeout=args.timeout))


def local_address(host: str, port: int) -> str:
    """Our address on the route to ``host`` (rosauth's "client" field). Connecting a UDP
    socket sends nothing; it only makes the kernel pick the route."""
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((host, port))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1" if host in ("127.0.0.1", "localhost") else host


def gripper_for(args):
    """A :class:`robots.ros.deploy.GripperPort` for ``--gripper``, or None without it."""
    if args.gripper is None:
        return None
    from robots.ros.gripper import gripper_port

    port = gripper_port(args.gripper)
    if port is None:
        message = (f"--gripper {args.gripper}: the Robotiq driver (robots.robotiq) offers no "
                   "connection factory yet, so the gripper cannot be driven")
        if args.execute:
            raise UsageError(message + "; run without --gripper to move the arm only")
        print(f"[tamp] note: {message}; gripper steps are only listed", file=sys.stderr)
    return port


def activate(gripper, spec: str, say) -> bool:
    """Activate the gripper before anything moves; False (with the driver's error said)
    if it cannot be."""
    say(f"activating the gripper at {spec}")
    try:
        gripper.open()
    except Exception as err:  # the driver's typed errors; none may go unreported
        say(f"error: gripper {spec}: {type(err).__name__}: {err}")
        return False
    return True
