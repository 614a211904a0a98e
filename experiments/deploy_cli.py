"""``tamp deploy``: plan an episode and send its arm trajectories to a robot through ROS.

Dry run by default: the trajectories are planned, re-timed and checked against the live
robot (joint names, joint state), and what would be sent is printed; ``--execute`` moves
the robot. Exit codes: 0 success, 1 refused or failed, 2 bad input.
"""

from __future__ import annotations

import math
import sys
from urllib.parse import urlparse

from experiments.cli import EXIT_FAILED, EXIT_OK, UsageError, finite_float

DEFAULT_CONTROLLER = "/position_joint_trajectory_controller"
GRIPPER_FORMS = "serial:/dev/ttyUSB0 | tcp:HOST:PORT | urcap:HOST"


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "deploy", help="send a planned episode to a robot through ROS (dry run unless "
                       "--execute)",
        description="Plan TASK/SEED, re-time every arm trajectory to --speed-scale of the "
                    "joint limits, check it (limits, workspace box, controller joint names, "
                    "start state) and, with --execute, send it through FollowJointTrajectory. "
                    "Without --execute nothing is sent. Only loopback addresses unless "
                    "--allow-remote.",
        epilog="Exit codes: 0 success, 1 refused or failed, 2 bad input.")
    p.add_argument("--task", default="place-in-bowl", help="task name (see 'tamp tasks')")
    p.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--ros", metavar="URL",
                        help="rosbridge websocket, e.g. ws://127.0.0.1:9090")
    target.add_argument("--ros1", action="store_true", help="native ROS 1 (rospy)")
    p.add_argument("--master", metavar="URL",
                   help="ROS 1 master for --ros1 (default http://127.0.0.1:11311)")
    p.add_argument("--ros-version", type=int, choices=(1, 2),
                   help="ROS version behind the rosbridge server (--ros only; default 1)")
    p.add_argument("--controller", default=DEFAULT_CONTROLLER,
                   help=f"trajectory controller namespace (default {DEFAULT_CONTROLLER})")
    p.add_argument("--joint-states", default="/joint_states", help="joint state topic")
    p.add_argument("--via", choices=("action", "topic"), default="action",
                   help="FollowJointTrajectory action (default) or the command topic")
    p.add_argument("--gripper", metavar="SPEC", help=f"Robotiq 2F-85: {GRIPPER_FORMS}")
    p.add_argument("--execute", action="store_true", help="really move the robot")
    p.add_argument("--speed-scale", type=finite_float, default=0.25,
                   help="fraction of the joint velocity/acceleration limits (default 0.25)")
    p.add_argument("--workspace", metavar="X0,X1,Y0,Y1,Z0,Z1",
                   help="box the tool centre point must stay in, m, robot base frame")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a ROS master / rosbridge / gripper that is not on loopback")
    p.add_argument("--rosauth-secret-file", metavar="FILE",
                   help="rosbridge with rosauth: file holding the shared secret")
    p.add_argument("--timeout", type=finite_float, default=5.0,
                   help="seconds to wait for the connection and the controller (default 5)")
    p.add_argument("--time-budget", type=finite_float, default=60.0, help="planning budget, s")
    p.set_defaults(func=_cmd_deploy)


def _validate(args) -> None:
    from scenes.tasks import task_names

    if args.task not in task_names():
        raise UsageError(f"unknown task '{args.task}'; known tasks: {', '.join(task_names())}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.master is not None and not args.ros1:
        raise UsageError("--master goes with --ros1")
    if args.ros_version is not None and args.ros is None:
        raise UsageError("--ros-version goes with --ros")
    if args.rosauth_secret_file is not None and args.ros is None:
        raise UsageError("--rosauth-secret-file goes with --ros")
    # written as what must hold, so that NaN (false in every comparison) is refused too
    if not (0 < args.timeout < math.inf and 0 < args.time_budget < math.inf):
        raise UsageError("--timeout and --time-budget must be finite numbers > 0")
    url = args.ros if args.ros is not None else (args.master or "http://127.0.0.1:11311")
    schemes = ("ws", "wss") if args.ros is not None else ("http",)
    parsed = urlparse(url)
    if parsed.scheme not in schemes or not parsed.hostname:
        raise UsageError(f"'{url}' is not a {' or '.join(s + '://' for s in schemes)}HOST:PORT "
                         "address")
    try:
        parsed.port
    except ValueError as err:
        raise UsageError(f"'{url}': {err}") from err
    from robots.ros.transport import is_loopback_host

    if not is_loopback_host(parsed.hostname) and not args.allow_remote:
        raise UsageError(f"{url} is not a loopback address; pass --allow-remote to talk to "
                         "another machine")
    if args.gripper is not None:
        _gripper_host(args.gripper, args.allow_remote)


def _gripper_host(spec: str, allow_remote: bool) -> None:
    """Check the form of a --gripper spec, and that its host is allowed."""
    from robots.ros.transport import is_loopback_host

    kind, _, rest = spec.partition(":")
    host = ""
    if kind == "serial" and rest.startswith("/"):
        return
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit():
            host = ""
    elif kind == "urcap" and rest:
        host = rest.split(":")[0]
    if not host:
        raise UsageError(f"--gripper '{spec}' is not one of {GRIPPER_FORMS}")
    if not is_loopback_host(host) and not allow_remote:
        raise UsageError(f"--gripper host {host} is not a loopback address; pass "
                         "--allow-remote to talk to another machine")


def _safety_config(args):
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


def _transport(args):
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
        auth = RosAuth.from_secret(secret, _local_address(parsed.hostname, parsed.port or 9090),
                                   parsed.hostname)
    return RosbridgeTransport(RosbridgeConfig(
        url=args.ros, ros_version=args.ros_version or 1, controller=args.controller,
        joint_states=args.joint_states, allow_remote=args.allow_remote, auth=auth,
        connect_timeout=args.timeout, state_timeout=args.timeout))


def _local_address(host: str, port: int) -> str:
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


def _gripper(args):
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


def _plan(args, env, q_start):
    """Plan with joint limits narrowed by the safety margin, so that the plan keeps the
    clearance the safety checks demand (the planner itself works up to the URDF limits)."""
    import dataclasses

    from tamp.planner import Planner, PlannerConfig

    margin = _safety_config(args).position_margin + 1e-3
    robot = dataclasses.replace(env.robot, lower=env.robot.lower + margin,
                                upper=env.robot.upper - margin)
    return Planner(robot, PlannerConfig(time_budget=args.time_budget, seed=args.seed)).plan(
        env.oracle_world(), env.instance.goal, q_start)


def _cmd_deploy(args) -> int:
    _validate(args)
    config = _safety_config(args)
    gripper = _gripper(args)
    import numpy as np

    from robots.ros.deploy import DeployConfig, Deployer, plan_steps
    from robots.ros.transport import TransportError
    from scenes.env import TabletopEnv

    def say(message: str) -> None:
        print(f"[tamp] {message}", file=sys.stderr, flush=True)

    transport = _transport(args)
    env = TabletopEnv(args.task)
    try:
        env.reset(seed=args.seed)
        say(f"connecting: {transport.description}")
        transport.connect()
        # plan from where the arm is; if that cannot be read or lies inside the safety
        # margin, plan from the scene's start and let the start-state check judge
        q_start = env.sim.arm_positions()
        margin = config.position_margin
        try:
            measured = transport.joint_state().positions_for(env.robot.arm_joints)
            if np.all(measured >= env.robot.lower + margin) and \
                    np.all(measured <= env.robot.upper - margin):
                q_start = measured
            else:
                say("planning from the scene's start configuration (the measured one is "
                    "within the joint-limit margin)")
        except (TransportError, KeyError) as err:
            say(f"planning from the scene's start configuration ({err})")
        say(f"planning {args.task} seed {args.seed}: {env.instance.description}")
        plan = _plan(args, env, q_start)
        if not plan.success:
            say(f"planning failed: {plan.reason}")
            return EXIT_FAILED
        steps = plan_steps(plan, env.robot.arm_joints)
        if args.execute and gripper is not None:
            say(f"activating the gripper at {args.gripper}")
            try:
                gripper.open()
            except Exception as err:  # the driver's typed errors; none may go unreported
                say(f"error: gripper {args.gripper}: {type(err).__name__}: {err}")
                return EXIT_FAILED
        deployer = Deployer(transport, env.robot,
                            DeployConfig(safety=config, execute=args.execute, via=args.via),
                            gripper=gripper, log=lambda line: print(line, flush=True))
        try:
            report = deployer.run(steps)
        except KeyboardInterrupt:
            deployer.stop()
            raise
    except TransportError as err:
        say(f"error: {err}")
        return EXIT_FAILED
    finally:
        transport.close()
        env.close()
        if gripper is not None:
            gripper.close()
    moves = sum(s.kind == "move" for s in steps)
    if not report.executed:
        say(f"{report.reason}; {moves} moves, {len(steps) - moves} gripper steps, joints "
            f"{', '.join(env.robot.arm_joints)}"
            + ("" if not report.success else "; add --execute to move the robot"))
    else:
        say(report.reason)
    return EXIT_OK if report.success else EXIT_FAILED
