"""``tamp deploy``: the closed loop on a robot over ROS, and ``tamp twin``: a PyBullet scene
served as such a robot.

``tamp deploy --goal TEXT --ros1 --workcell FILE`` looks at the table through the robot's
camera (``sensor_msgs`` images, the camera pose from TF or the workcell file), names what
it sees with the learned concepts, grounds the goal's words in it and plans. Dry run by
default: every trajectory of the plan is re-timed and checked against the live robot and
printed; ``--execute`` runs the loop: execute a step, look, compare, replan.

``tamp deploy --task T --seed S`` (the earlier replay of a *simulated* scene's plan) is a
dry run only: its objects are not on the real table.

Exit codes: 0 success, 1 refused or failed, 2 bad input.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from urllib.parse import urlparse

from experiments import declare
from experiments import options as opt
from experiments.declare import opt as option
from experiments.declare import section
from experiments.deploy_link import (activate, check_gripper_host, gripper_for,
                                     safety_config, transport_for)
from experiments.options import EXIT_FAILED, EXIT_OK, UsageError
from experiments.shared_options import DeviceOptions, camera_option, robot_option

DEFAULT_CONTROLLER = "/position_joint_trajectory_controller"
GRIPPER_FORMS = "serial:/dev/ttyUSB0 | tcp:HOST:PORT | urcap:HOST"


UNKNOWN_TASK = "unknown task '{value}'; known tasks: {known}"


def _task_names() -> list[str]:
    from scenes.tasks import task_names

    return task_names()


def _domains() -> list[str]:
    from tamp.domains import DOMAINS

    return DOMAINS.names()


@dataclass(frozen=True)
class DeployOptions:
    """The options of ``tamp deploy``."""

    goal: str | None = option(None, metavar="TEXT", help=(
        "what to do, in words, grounded in what the camera sees (needs --ros1 and "
        "--workcell)"))
    workcell: str | None = option(None, metavar="FILE", help=(
        "the workcell file (robots/workcell.py; example: robots/workcells/example.yaml); "
        "'tamp twin' writes one"))
    domain: str = option("pick-place", known=_domains,
                         unknown="unknown --domain '{value}'; known: {known}",
                         help="PDDL domain the goal is planned in (default pick-place)")
    max_replans: int = option(3, range=(0, 1000), help="replans after a failed step before "
                                                       "giving up (default 3)")
    report: str | None = option(None, metavar="FILE", help=(
        "with --goal: also write a JSON summary to FILE (outcome, what was seen, the "
        "goal's facts, robot time, per-look perception and per-motion latency)"))
    task: str | None = option(None, known=_task_names, unknown=UNKNOWN_TASK, help=(
        "dry-run replay of a simulated scene's plan: task name (see 'tamp tasks'); never "
        "moves a robot"))
    seed: int = option(0, range=opt.SEED.bounds, help="with --task: scene seed (default 0)")
    ros: str | None = option(None, metavar="URL", exclusive="target", required=True,
                             help="rosbridge websocket, e.g. ws://127.0.0.1:9090")
    ros1: bool = option(False, exclusive="target", required=True,
                        help="native ROS 1 (rospy)")
    master: str | None = option(None, metavar="URL", help="ROS 1 master for --ros1 (default "
                                                          "http://127.0.0.1:11311)")
    ros_version: int | None = option(None, range=(1, 2), choices=(1, 2), help=(
        "ROS version behind the rosbridge server (--ros only; default 1)"))
    controller: str | None = option(None, help=(
        f"trajectory controller namespace (default: the workcell's, else "
        f"{DEFAULT_CONTROLLER})"))
    joint_states: str | None = option(None, help="joint state topic (default: the "
                                                 "workcell's, else /joint_states)")
    via: str = option("action", choices=("action", "topic"), help=(
        "FollowJointTrajectory action (default) or the command topic"))
    gripper: str | None = option(None, metavar="SPEC", help=f"Robotiq 2F-85: {GRIPPER_FORMS}")
    execute: bool = option(False, help="really move the robot")
    #: fraction of the joint limits (SafetyConfig checks its range)
    speed_scale: float = option(0.25, help="fraction of the joint velocity, acceleration "
                                           "and jerk limits (default 0.25)")
    workspace: str | None = option(None, metavar="X0,X1,Y0,Y1,Z0,Z1", help=(
        "box the tool centre point must stay in, m, robot base frame"))
    allow_remote: bool = option(False, help="allow a ROS master / rosbridge / gripper that "
                                            "is not on loopback")
    rosauth_secret_file: str | None = option(None, metavar="FILE", help=(
        "rosbridge with rosauth: file holding the shared secret"))
    #: s
    timeout: float = option(5.0, above=0, unit="s", help=(
        "seconds to wait for the connection and the controller (default 5)"))
    #: s of planning
    time_budget: float = option(60.0, above=0, unit="s", help="planning budget, s")
    devices: DeviceOptions = section(DeviceOptions)

    def check(self) -> None:
        _validate(self)
        self.devices.collision()  # a device this machine lacks: one line, before any work

    def planner_config(self, **fields):
        """The planner's configuration for this deployment: ``fields`` (budget, seed,
        domain) and the collision device and backend of ``--device`` /
        ``--collision-backend``."""
        from tamp.planner import PlannerConfig, with_overrides

        return with_overrides(PlannerConfig(time_budget=self.time_budget, **fields),
                              self.devices.planner_settings({}))


def add_commands(subparsers) -> None:
    declare.command(
        subparsers, "deploy", DeployOptions, _cmd_deploy,
        help="look, plan and act on a robot through ROS (dry run unless --execute)",
        description="With --goal: perceive the table through the robot's camera (topics and "
                    "camera pose from --workcell), ground the goal's words in what is seen, "
                    "plan, re-time every arm trajectory to --speed-scale of the joint limits "
                    "and check it (position, velocity, acceleration and jerk limits, "
                    "workspace box, controller joint names, start state). Without --execute "
                    "nothing is sent; with it, the closed loop runs: each step is sent "
                    "through FollowJointTrajectory and the gripper "
                    "driver, then the table is looked at again and the plan redone when the "
                    "world disagrees. With --task: a dry-run replay of a simulated scene's "
                    "plan (it never moves a robot). Only loopback addresses unless "
                    "--allow-remote; Ctrl-C cancels the active goal and stops the gripper.",
        epilog="Exit codes: 0 success, 1 refused or failed, 2 bad input. Example: tamp deploy "
               "--goal \"put the red blocks in the green bowl\" --ros1 --workcell "
               "robots/workcells/example.yaml")
    add_twin_command(subparsers)


def _validate(args: DeployOptions) -> None:
    """What the options of ``tamp deploy`` must be together (each alone was checked)."""
    if (args.goal is None) == (args.task is None):
        raise UsageError("give --goal TEXT with --workcell FILE (look, plan and act), or "
                         "--task T for a dry-run replay of a simulated scene's plan")
    if args.task is not None:
        if args.execute:
            raise UsageError("--task replays the plan of a simulated scene, whose objects "
                             "are not on your table: it is a dry run only; to move the robot "
                             "give --goal TEXT --workcell FILE")
        if args.workcell is not None or args.report is not None:
            raise UsageError("--workcell and --report go with --goal")
    else:
        if not args.goal.strip():
            raise UsageError("--goal is empty")
        if not args.ros1:
            raise UsageError("--goal needs --ros1 (the camera is read over native ROS 1)")
        if args.workcell is None:
            raise UsageError("--goal needs --workcell FILE (what the camera and the table "
                             "are; see robots/workcells/example.yaml)")
        if args.report is not None:
            import os
            from pathlib import Path

            where = Path(args.report).resolve().parent
            if Path(args.report).is_dir() or not where.is_dir() or \
                    not os.access(where, os.W_OK):
                raise UsageError(f"--report {args.report}: cannot write a file there")
    if args.master is not None and not args.ros1:
        raise UsageError("--master goes with --ros1")
    if args.ros_version is not None and args.ros is None:
        raise UsageError("--ros-version goes with --ros")
    if args.rosauth_secret_file is not None and args.ros is None:
        raise UsageError("--rosauth-secret-file goes with --ros")
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
        check_gripper_host(args.gripper, args.allow_remote)


def _plan(args, env, q_start):
    """Plan with joint limits narrowed by the safety margin, so that the plan keeps the
    clearance the safety checks demand (the planner itself works up to the URDF limits)."""
    import dataclasses

    from tamp.planner import Planner

    margin = safety_config(args).position_margin + 1e-3
    robot = dataclasses.replace(env.robot, lower=env.robot.lower + margin,
                                upper=env.robot.upper - margin)
    return Planner(robot, args.planner_config(seed=args.seed)).plan(
        env.oracle_world(), env.instance.goal, q_start)


def _cmd_deploy(args: DeployOptions) -> int:
    if args.goal is not None:
        from experiments.deploy_goal import deploy_goal

        return deploy_goal(args)
    return replay(args)


def replay(args: DeployOptions) -> int:
    """Plan the simulated scene TASK/SEED and check (dry run) or send (``args.execute``,
    which the command line refuses: only tests of the transport pass it) its arm
    trajectories."""
    args = replace(args, controller=args.controller or DEFAULT_CONTROLLER,
                   joint_states=args.joint_states or "/joint_states")
    config = safety_config(args)
    gripper = gripper_for(args)
    import numpy as np

    from robots.ros.deploy import DeployConfig, Deployer, plan_steps
    from robots.ros.transport import TransportError
    from scenes.env import TabletopEnv

    def say(message: str) -> None:
        print(f"[tamp] {message}", file=sys.stderr, flush=True)

    transport = transport_for(args)
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
        if args.execute and gripper is not None and not activate(gripper, args.gripper, say):
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


# -- tamp twin -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TwinServeOptions:
    """The options of ``tamp twin``."""

    task: str = option("place-in-bowl", known=_task_names, unknown=UNKNOWN_TASK,
                       help="task name (see 'tamp tasks')")
    seed: int = option(0, range=opt.SEED.bounds, help="scene seed (default 0)")
    ros1: bool = option(False, required=True, help="serve over native ROS 1 (the only "
                                                   "transport of the twin)")
    master: str = option("http://127.0.0.1:11311", metavar="URL",
                         help="ROS 1 master (default http://127.0.0.1:11311)")
    out: str = option("runs/twin", help="output directory (default runs/twin)")
    gripper_port: int = option(0, range=opt.PORT.bounds, help="TCP port of the simulated "
                                                              "gripper (default: a free one)")
    allow_remote: bool = option(False, help="allow a ROS master that is not on loopback")
    #: simulated s per wall-clock s
    time_scale: float = option(1.0, above=0, at_most=20, help=(
        "simulated seconds per wall-clock second at most (default 1: real time; more for "
        "benchmarks, as far as the physics keeps up)"))
    camera: str = camera_option("d435", "a real camera's imperfections, as on the robot")
    robot: str = robot_option()
    device: str = option("cpu", metavar="NAME", help=(
        "cpu, cuda, cuda:N or auto, checked as 'tamp deploy --device' checks it (a device "
        "this machine lacks is refused); accepted so that one device can be named to both "
        "commands, it changes nothing here: the twin runs no torch work (physics and "
        "camera in PyBullet, sensor noise in numpy). Give it to 'tamp deploy', whose "
        "planner and concept model run there"))

    def check(self) -> None:
        opt.torch_device(self.device)  # a device this machine lacks: one line, exit 2


def add_twin_command(subparsers) -> None:
    declare.command(
        subparsers, "twin", TwinServeOptions, _cmd_twin,
        help="serve a simulated scene as a robot cell over ROS 1 and Modbus",
        description="Serve the scene of TASK/SEED as a robot cell: /joint_states, a "
                    "FollowJointTrajectory action server executing under physics, the "
                    "camera's colour, depth and camera_info topics through the sensor model, "
                    "TF from the robot base to the camera, and the Robotiq 2F-85 on a "
                    "Modbus-RTU-over-TCP port. Writes OUT/workcell.yaml (for 'tamp deploy "
                    "--workcell') and keeps OUT/result.json with the task's ground-truth "
                    "success. Runs until Ctrl-C.",
        epilog="Example: tamp twin --task place-in-bowl --seed 3 --ros1 --out runs/twin & "
               "tamp deploy --goal \"put the red block in the green bowl\" --ros1 "
               "--workcell runs/twin/workcell.yaml --execute")


def _cmd_twin(args: TwinServeOptions) -> int:
    import os

    from robots.ros.transport import is_loopback_host

    camera = args.camera
    parsed = urlparse(args.master)
    if parsed.scheme != "http" or not parsed.hostname:
        raise UsageError(f"--master '{args.master}' is not an http://HOST:PORT address")
    if not is_loopback_host(parsed.hostname) and not args.allow_remote:
        raise UsageError(f"{args.master} is not a loopback address; pass --allow-remote")
    out = opt.writable_dir("--out", args.out)
    from robots.ros.rospath import check

    ros = check()
    if not ros.ok:
        print(f"[twin] error: {ros.message}", file=sys.stderr)
        return EXIT_FAILED
    os.environ["ROS_MASTER_URI"] = args.master
    if is_loopback_host(parsed.hostname):
        os.environ["ROS_IP"] = "127.0.0.1"
        os.environ.pop("ROS_HOSTNAME", None)
    import xmlrpc.client

    try:
        xmlrpc.client.ServerProxy(args.master).getUri("/tamp_twin")
    except (OSError, xmlrpc.client.Error) as err:
        print(f"[twin] error: no ROS master at {args.master} ({err})", file=sys.stderr)
        return EXIT_FAILED
    from scenes.twin import TwinConfig, run

    def ready(twin) -> None:
        print(f"[twin] {args.task} seed {args.seed} served on {args.master} (camera "
              f"{camera}, gripper {twin.gripper_address}); workcell: "
              f"{out / 'workcell.yaml'}; Ctrl-C to stop", file=sys.stderr, flush=True)

    result = run(TwinConfig(task=args.task, seed=args.seed, camera=camera, robot=args.robot,
                            gripper_port=args.gripper_port, time_scale=args.time_scale),
                 out, ready)
    print(f"[twin] stopped: task {'succeeded' if result['success'] else 'not done'} "
          f"after {result['motions']} motions ({result['sim_time_s']:.1f} s simulated) -> "
          f"{out / 'result.json'}", file=sys.stderr)
    return EXIT_OK
