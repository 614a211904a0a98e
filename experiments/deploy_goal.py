"""``tamp deploy --goal TEXT --ros1 --workcell FILE``: the agent's closed loop on a robot.

Perception reads only what the robot offers: the camera's ``sensor_msgs`` images and
``camera_info`` (:class:`robots.ros.camera.RosCamera`), its pose from TF or the workcell
file, and the joint state (to cut the arm out of the point cloud). The goal's words are
grounded in the learned concepts of what is seen, exactly as ``tamp run --perception
learned-geometric``. Dry run: one plan, every trajectory re-timed, checked and printed.
``--execute``: :class:`tamp.execution.loop.ClosedLoop` with a
:class:`robots.ros.actuator.RosActuator`.
"""

from __future__ import annotations

import dataclasses
import sys
import time

from experiments.options import EXIT_FAILED, EXIT_OK, UsageError

EXIT_INTERRUPTED = 130


def _say(message: str) -> None:
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


class _Printer:
    """The loop's monitor: stages on stderr."""

    def stage(self, message: str) -> None:
        _say(message)

    def expect_steps(self, n: int) -> None:
        pass

    def step(self, env) -> None:
        pass


def _setup(args):
    """``args`` (the options of ``tamp deploy``) completed from the workcell, and the
    workcell, robot and camera model, checked: UsageError (exit 2) if unusable."""
    import robots
    from experiments.deploy_link import check_gripper_host
    from robots.workcell import WorkcellError, load
    from tamp.perception.sensors import sensor_model

    try:
        cell = load(args.workcell)
    except WorkcellError as err:
        raise UsageError(str(err)) from err
    if cell.robot not in robots.available():
        raise UsageError(f"workcell {args.workcell}: unknown robot '{cell.robot}'; known: "
                         f"{', '.join(robots.available())}")
    try:
        sensor = sensor_model(cell.camera.model)
    except ValueError as err:
        raise UsageError(f"workcell {args.workcell}: camera.model: {err}") from err
    # what the command line leaves unset, the workcell says
    args = dataclasses.replace(args, gripper=args.gripper or cell.gripper,
                               controller=args.controller or cell.controller,
                               joint_states=args.joint_states or cell.joint_states)
    if args.gripper is not None:
        check_gripper_host(args.gripper, args.allow_remote)
    return args, cell, robots.load(cell.robot), sensor


def deploy_goal(args) -> int:
    import signal

    from experiments.deploy_link import activate, safety_config, transport_for
    from robots.ros.transport import TransportError

    # Ctrl-C (SIGINT) must stop the robot whatever this process inherited: a shell starts
    # background jobs with SIGINT ignored, and Python then never raises KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)

    args, cell, robot, sensor = _setup(args)
    safety = safety_config(args)
    transport = transport_for(args)
    gripper = None
    try:
        _say(f"connecting: {transport.description}")
        transport.connect()
        if args.gripper is not None:
            from robots.ros.gripper import RobotiqPort

            gripper = RobotiqPort(args.gripper)  # connects on first use
        if args.execute and gripper is not None and \
                not activate(gripper, args.gripper, _say):
            return EXIT_FAILED
        return _look_plan_act(args, cell, robot, sensor, safety, transport, gripper)
    except TransportError as err:
        _say(f"error: {err}")
        return EXIT_FAILED
    finally:
        transport.close()
        if gripper is not None:
            gripper.close()


def _look_plan_act(args, cell, robot, sensor, safety, transport, gripper) -> int:
    report: dict = {"goal": args.goal, "workcell": str(args.workcell),
                    "execute": bool(args.execute), "success": False, "reason": ""}
    try:
        code = _loop(args, cell, robot, sensor, safety, transport, gripper, report)
    except BaseException as err:
        report["reason"] = report["reason"] or f"{type(err).__name__}: {err}"
        raise
    finally:
        if args.report:
            from tamp.files import write_json_atomic

            write_json_atomic(args.report, report)
    return code


def _loop(args, cell, robot, sensor, safety, transport, gripper, report: dict) -> int:
    from tamp.execution.loop import PERCEIVED_DRIFT_DISTANCE, ClosedLoop
    from robots.ros.actuator import RosActuator
    from robots.ros.camera import CameraError, CameraTopics, RosCamera
    from robots.ros.deploy import DeployConfig, Deployer, plan_steps
    from tamp.concepts.goal_grounding import GoalError, ground_goal
    from tamp.concepts.perceiver import LearnedPerceiver
    from tamp.planner import Planner, goal_holds

    cam = cell.camera
    camera = RosCamera(CameraTopics(cam.namespace, cam.colour, cam.depth, cam.info, cam.frame),
                       cell.base_frame, sensor.depth_noise(), name=sensor.name,
                       pose=cam.pose, timeout=args.timeout)
    hand = {"width": lambda: robot.gripper.stroke}  # the actuator's, once there is one

    def robot_state():
        q = transport.joint_state().positions_for(robot.arm_joints)
        return q, robot.gripper.joint_for_width(hand["width"]())

    # plan with joint limits narrowed by the safety margin, so that every planned motion
    # keeps the clearance the safety checks demand
    margin = safety.position_margin + 1e-3
    plan_robot = dataclasses.replace(robot, lower=robot.lower + margin,
                                     upper=robot.upper - margin)
    planner = Planner(plan_robot, args.planner_config(seed=0, domain=args.domain))
    collision = planner.config.collision.resolved()
    report.update(device=collision.device, collision_backend=collision.backend)
    # the concept model runs where the planner's batched work does (--device)
    perceiver = LearnedPerceiver(camera, robot, "learned-geometric", robot_state,
                                 table_height=cell.table_height, zones=cell.zones(),
                                 table_extent=cell.table_extent, device=planner.config.device)
    looks = report.setdefault("perception_s", [])
    observe = perceiver.observe

    def timed_observe():
        t = time.perf_counter()
        try:
            return observe()
        finally:
            looks.append(round(time.perf_counter() - t, 4))
    perceiver.observe = timed_observe
    t0 = time.perf_counter()
    try:
        _say(f"looking at the table ({cam.namespace}, camera model {sensor.name})")
        world = perceiver.observe()
    except CameraError as err:
        _say(f"error: {err}")
        report["reason"] = str(err)
        return EXIT_FAILED
    report["perceived_objects"] = perceiver.record.get("perceived_objects", [])
    _say(f"seen in {time.perf_counter() - t0:.1f} s: " + (", ".join(
        f"{o['name']} ({o['color']} {o['shape']} at "
        f"{', '.join(f'{v:.2f}' for v in o['position_m'][:2])})"
        for o in perceiver.record.get("perceived_objects", [])) or "nothing"))
    try:
        grounded = ground_goal(args.goal, perceiver.facts)
    except GoalError as err:
        _say(f"goal '{args.goal}': {err}")
        report["reason"] = f"goal: {err}"
        return EXIT_FAILED
    goal = grounded.atoms
    report["goal_atoms"] = [" ".join(a) for a in sorted(goal)]
    _say("goal: " + ", ".join(" ".join(a) for a in sorted(goal)))
    if goal_holds(world, goal, args.domain):
        _say("the goal already holds; nothing to do")
        report["success"] = True
        return EXIT_OK
    deploy = DeployConfig(safety=safety, execute=args.execute, via=args.via)
    deployer = Deployer(transport, robot, deploy, gripper=gripper,
                        log=lambda line: print(line, flush=True))
    q = robot_state()[0]
    if not args.execute:
        plan = planner.plan(world, goal, q)
        report["planning_s"] = round(plan.planning_time, 4)
        if not plan.success:
            _say(f"planning failed: {plan.reason}")
            report["reason"] = f"planning failed: {plan.reason}"
            return EXIT_FAILED
        _say(f"planned {len(plan.actions)} actions in {plan.planning_time:.2f} s: "
             + "; ".join(f"{a.name} {' '.join(a.args)}" for a in plan.actions))
        steps = plan_steps(plan, robot.arm_joints)
        moves = sum(s.kind == "move" for s in steps)
        checked = deployer.run(steps)
        _say(f"{checked.reason}; {moves} moves, {len(steps) - moves} gripper steps"
             + ("; add --execute to run the closed loop" if checked.success else ""))
        report.update(success=checked.success, reason=checked.reason)
        return EXIT_OK if checked.success else EXIT_FAILED
    actuator = RosActuator(deployer, robot, gripper, log=lambda line: print(line, flush=True))
    hand["width"] = actuator.gripper_width
    loop = ClosedLoop(perceiver, actuator, planner, robot, args.max_replans,
                      PERCEIVED_DRIFT_DISTANCE, camera=True, monitor=_Printer(),
                      label="camera")
    t_run = time.perf_counter()
    try:
        out = loop.run(world, goal, args.domain, args.goal)
    except KeyboardInterrupt:
        deployer.stop()  # cancels the active goal
        if gripper is not None:
            gripper.stop()
        _say("interrupted: the active goal was cancelled and the gripper stopped")
        report["reason"] = "interrupted"
        return EXIT_INTERRUPTED
    except CameraError as err:
        _say(f"error: {err}")
        report["reason"] = str(err)
        return EXIT_FAILED
    finally:
        report.update(motions=actuator.motions, robot_time_s=round(actuator.robot_time, 3),
                      motion_latency_s=[round(v, 4) for v in actuator.latencies])
    wall = time.perf_counter() - t_run
    report.update(looks=out.looks, replans=out.replans, relooks=out.relooks,
                  refreshes=out.refreshes,
                  planning_s=round(out.planning_time, 4), loop_wall_s=round(wall, 3),
                  success=not out.reason, reason=out.reason)
    summary = (f"{actuator.motions} motions ({actuator.robot_time:.1f} s of robot time), "
               f"{out.looks} looks, {out.replans} replans, planning {out.planning_time:.1f} s, "
               f"{wall:.1f} s in all")
    if out.reason:
        _say(f"FAILED: {out.reason} ({summary})")
        return EXIT_FAILED
    _say(f"done: the goal holds in what the camera sees ({summary})")
    return EXIT_OK
