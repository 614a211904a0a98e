"""Geometric refinement of symbolic actions: the streams of the TAMP planner.

A pick-like action (e.g. ``pick``, ``unstack``, ``take-out``) followed by a place-like one
is refined together: a grasp, a placement from the place action's *placement stream*,
inverse kinematics, straight approach/retreat moves and collision-free transit/transfer
motion. The placement streams, and which actions pick, belong to the domain
(:mod:`tamp.domains`); this module knows no domain's actions by name.
"""

from __future__ import annotations

import time

import numpy as np

from tamp.domains import get_domain
from tamp.execution.plan import Action, Segment
from tamp.geometry.collision import CollisionChecker
from tamp.candidates import least_turn, pick_grasps
from tamp.geometry.grasps import Grasp, fingertip_depth
from tamp.geometry.kinematics import IKConfig, turn_variants
from tamp.geometry.motion import MotionConfig, join_paths, plan_motion, round_corners
from tamp.geometry.timing import time_chain, time_parameterize
from tamp.geometry.transforms import translation, wrap_angle, yaw_of
from tamp.world import WorldModel, WorldObject


class RefinementError(Exception):
    """A continuous parameter could not be found; the message says which and why."""

    def __init__(self, message: str, blockers: tuple[str, ...] = (), stage: str = "place"):
        super().__init__(message)
        #: objects whose presence made a placement impossible (to be moved first)
        self.blockers = blockers
        #: "pick" when the object could not be taken at all, "place" when it could not
        #: be put where the action says
        self.stage = stage


#: the timings of :class:`tamp.planner.PlannerConfig` (``timing``)
TIMINGS = ("flow", "stop")
#: rad of path length at most cut off each side of a corner with the "flow" timing
CORNER_RADIUS = 0.2
#: the share of a straight approach, lift or descent that a cut corner may take (the
#: rest stays on the straight line, the end near the object most of all)
STRAIGHT_SHARE = 0.3

#: m above its resting pose at which a placed object is let go: the first that has a
#: collision-free straight move down (a short drop onto the support is harmless)
RELEASE_DROPS = (0.0, 0.01, 0.02)


class Refiner:
    """Finds grasps, placements, IK solutions and motions for one plan skeleton."""

    def __init__(self, planner, world: WorldModel, q: np.ndarray, t0: float):
        self.p = planner
        self.cfg = planner.config
        self.domain = get_domain(self.cfg.domain)
        self.kin = planner.kin
        self.world = world
        self.q = q
        self.t0 = t0
        self.checker = CollisionChecker(self.kin, world, self.cfg.collision)
        self.context: dict = {}  #: what streams may know beyond the world (the goal)
        self.query = 0

    # -- helpers ------------------------------------------------------------------------
    def _check_budget(self) -> None:
        if time.perf_counter() - self.t0 > self.cfg.time_budget:
            raise RefinementError(f"planning time budget of {self.cfg.time_budget:.0f} s "
                                  "exhausted")

    def _straight(self, q0: np.ndarray, start: np.ndarray, end: np.ndarray,
                  check: bool = True) -> np.ndarray | None:
        """Joint waypoints moving the TCP in a straight line from pose ``start`` to ``end``
        (same orientation), each checked for collision unless ``check`` is False; None if
        that is impossible."""
        dist = float(np.linalg.norm(end[:3, 3] - start[:3, 3]))
        n = max(1, int(np.ceil(dist / self.cfg.cartesian_step)))
        path, q = [q0], q0
        ik = self.cfg.ik
        for s in np.linspace(0, 1, n + 1)[1:]:
            target = start.copy()
            target[:3, 3] = start[:3, 3] + s * (end[:3, 3] - start[:3, 3])
            res = self.kin.ik(target, [q], np.random.default_rng(0),
                              IKConfig(ik.max_iterations, ik.damping, ik.step,
                                       ik.position_tolerance, ik.orientation_tolerance, 0,
                                       ik.limit_margin))
            if not res.success or np.abs(res.q - q).max() > self.cfg.max_joint_jump:
                return None
            if check and not self.checker.edge_free(q, res.q):
                return None
            q = res.q
            path.append(q)
        return np.array(path)

    def _approach(self, tcp_pre: np.ndarray, tcp_goal: np.ndarray, seeds, rng,
                  drops: tuple[float, ...] = (0.0,), robot: tuple[str, ...] = (),
                  load: tuple[str, ...] = (), prefer=None):
        """A collision-free configuration at ``tcp_pre`` from which the TCP moves straight
        to ``tcp_goal`` (raised by the first of ``drops`` that works), with ``robot`` /
        ``load`` allowed to touch what they name on the way: ``(q_pre, path, goal)``, or
        None. IK solutions are tried until one has such a move (another arm posture may
        have one where the first has not); first, if any, those that ``prefer`` turns
        into a posture it likes (``prefer(q)``: that posture or None)."""
        found: dict = {}

        def accept(q: np.ndarray) -> bool:
            if not self.checker.is_free(q):
                return False
            self.checker.ignore(robot=robot, load=load)
            try:
                for drop in drops:
                    goal = tcp_goal.copy()
                    goal[2, 3] += drop
                    path = self._straight(q, tcp_pre, goal)
                    if path is not None:
                        found.update(q=q, path=path, goal=goal)
                        return True
                return False
            finally:
                self.checker.ignore()

        if prefer is not None:
            res = self.kin.ik(tcp_pre, seeds, rng, self.cfg.ik,
                              accept=lambda q: (v := prefer(q)) is not None and accept(v))
        if prefer is None or not res.success:
            res = self.kin.ik(tcp_pre, seeds, rng, self.cfg.ik, accept=accept)
        return (found["q"], found["path"], found["goal"]) if res.success else None

    def _upright(self, q: np.ndarray, start: np.ndarray, up: np.ndarray | None = None):
        """``q`` turned by whole turns (nearest ``start`` first) so that an object held
        with ``up`` (default: the one held) goes upright on the straight line from
        ``start``; None if no turns do (a wrist flipped over: it would be turned over)."""
        robot = self.p.robot
        return next((v for v in turn_variants(q, start, robot.lower, robot.upper)
                     if self.checker.edge_upright(start, v, up)), None)

    def _escape(self, q: np.ndarray) -> np.ndarray | None:
        """From a configuration the model calls colliding (the arm stopped against
        something, or the padding overlaps what it just released), a short straight move
        up that ends free; None if there is none."""
        tcp = self.kin.tcp_pose(q)
        for rise in (0.03, 0.06, 0.1):
            up = tcp.copy()
            up[2, 3] += rise
            path = self._straight(q, tcp, up, check=False)
            if path is not None and self.checker.is_free(path[-1]):
                return path
        return None

    @property
    def flows(self) -> bool:
        """Whether motions are timed to flow (``PlannerConfig.timing``)."""
        return self.cfg.timing == "flow"

    def segment(self, path: np.ndarray, label: str, holding: str | None = None) -> Segment:
        """One move on its own, ending at rest."""
        return self.chain([(path, label, holding)])[0]

    def chain(self, moves: list[tuple[np.ndarray, str, str | None]]) -> list[Segment]:
        """Move segments for paths that follow one another, each ``(path, label,
        holding)``: with the "flow" timing one motion that passes the joins without
        stopping (:func:`time_chain`), jerk-limited, the last ending in "reach"; with
        "stop" each timed on its own and ending in "hold"."""
        robot = self.p.robot
        if not self.flows:
            return [Segment("move", label, trajectory=time_parameterize(
                path, robot.max_velocity, robot.max_acceleration, self.cfg.dt,
                self.cfg.speed_scale), holding=holding) for path, label, holding in moves]
        parts = time_chain([m[0] for m in moves], robot.max_velocity, robot.max_acceleration,
                           self.cfg.dt, self.cfg.speed_scale, max_jerk=robot.max_jerk)
        return [Segment("move", label, trajectory=traj, holding=holding,
                        end="reach" if k == len(moves) - 1 else "flow")
                for k, ((_, label, holding), traj) in enumerate(zip(moves, parts))]

    def straight_distances(self, obj: WorldObject, grasp: Grasp, deeper: float = 0.0
                           ) -> tuple[float, ...]:
        """m of straight motion of the empty hand along the tool axis onto ``obj`` in
        ``grasp`` and off it once placed, in the order tried: ``approach_distance``; with
        the "flow" timing first only as far as the fingertips reach down beside the
        object plus ``approach_clearance`` (where the hand is free that low above it: a
        taller neighbour may be in the way there), then ``approach_distance``. (Carried
        objects go the whole ``approach_distance``: from lower, towers-of-hanoi seeds
        62001 and 62002 lost disks on the way in simulation.) ``deeper``: m the move
        goes past the grasp (where the pads start closing, :meth:`sweep`)."""
        full = self.cfg.approach_distance
        if not self.flows:
            return (full,)
        robot = self.p.robot  # the open pads hang lower by the linkage's arc
        depth = fingertip_depth(obj, grasp, robot.tcp_to_fingertip + deeper
                                + robot.gripper.pad_drop_at_width(grasp.open_width))
        return tuple(dict.fromkeys((min(full, depth + self.cfg.approach_clearance), full)))

    def join(self, first: np.ndarray, second: np.ndarray, first_share: float = 0.45,
             second_share: float = 0.45) -> tuple[np.ndarray, np.ndarray]:
        """With the "flow" timing, the corner between ``first`` and ``second`` cut
        (:func:`join_paths`, in the checker's present state); unchanged with "stop"."""
        if not self.flows:
            return first, second
        return join_paths(first, second, self.checker.edge_free, CORNER_RADIUS,
                          first_share, second_share)

    def transit(self, q_from, q_to, what: str) -> np.ndarray:
        self._check_budget()
        self.query += 1
        motion = self.cfg.motion
        remaining = self.cfg.time_budget - (time.perf_counter() - self.t0)
        config = MotionConfig(motion.planner, min(motion.time_limit, max(remaining, 0.1)),
                              motion.shortcut_attempts)
        escape = None
        if not self.checker.is_free(q_from):
            escape = self._escape(q_from)
            if escape is not None:
                q_from = escape[-1]
        plan = plan_motion(self.checker, q_from, q_to, self.cfg.seed * 1000 + self.query, config)
        if not plan.success:
            raise RefinementError(f"no collision-free motion {what}: {plan.reason}")
        path = plan.path if escape is None else np.concatenate([escape[:-1], plan.path])
        if self.flows:
            path = round_corners(path, self.checker.edge_free, CORNER_RADIUS)
        return path

    # -- one pick and place -------------------------------------------------------------
    def pick_place(self, pick_action: tuple[str, ...], place_action: tuple[str, ...],
                   rng_seed: int) -> list[Action]:
        """Refine e.g. ``("pick", "b1", "table")`` then ``("stack", "b1", "b2")``."""
        rng = np.random.default_rng(rng_seed)
        obj_name = pick_action[1]
        obj = self.world.objects[obj_name]
        name, args = place_action[0], place_action[1:]
        if not self.domain.places_things(name):
            raise RefinementError(f"no placement stream for action '{name}'")
        cands = self._grasps(obj, rng)
        stream = self.domain.stream(name)(self.world, obj, args, rng, self.cfg.placement,
                                          self.context)
        target = " ".join(args[1:]) or "the table"
        if not stream.placements.poses:
            raise RefinementError(stream.placements.reason, blockers=stream.occupants)
        reasons, any_pick = [], False
        for grasp in cands[:self.cfg.max_grasps]:
            try:
                picked = self._pick(obj, grasp, rng, self.domain.support(pick_action))
            except RefinementError as err:
                reasons.append(str(err))
                continue
            any_pick = True
            poses = least_turn(obj, stream.placements.poses)
            if self.flows and len(poses) > self.cfg.max_placements:
                from tamp.geometry.antipodal import finger_room_first

                poses = finger_room_first(grasp, poses, self.checker, self.p.robot.gripper
                                          .joint_for_width(grasp.open_width))
            for pose in poses[:self.cfg.max_placements]:
                try:
                    return self._place(obj, place_action, stream.load_may_touch, grasp, pose,
                                       picked, rng, pick_action)
                except RefinementError as err:
                    reasons.append(str(err))
            self._undo_pick(obj)
        summary = "; ".join(dict.fromkeys(reasons)) or "no candidate worked"
        raise RefinementError(f"could not move {obj_name} ({name} {target}): {summary}",
                              stage="place" if any_pick else "pick")

    def _grasps(self, obj: WorldObject, rng) -> list[Grasp]:
        """Grasp candidates for ``obj``; those whose open gripper would hit something are
        dropped in one batch before any IK is tried. When every candidate collides (a
        crowded spot), the fingers open less, and then grasps are searched on the
        object's points, tilted approaches included."""
        from dataclasses import replace as _replace

        from tamp.geometry.antipodal import gripper_collision_filter

        tiers = [self.cfg, _replace(self.cfg, grasp=_replace(self.cfg.grasp,
                                                             pre_grasp_margin=0.008))]
        if self.cfg.grasp_source != "antipodal":
            tiers.append(_replace(self.cfg, grasp_source="antipodal"))
        reasons = []
        for cfg in tiers:
            cands = pick_grasps(obj, self.p.robot, cfg, rng)
            if not cands.grasps:
                reasons.append(cands.reason)
                continue
            open_joint = self.p.robot.gripper.joint_for_width(
                max(g.open_width for g in cands.grasps))
            kept, dropped = gripper_collision_filter(cands.grasps, obj.pose, self.checker,
                                                     open_joint)
            if kept:
                # the wrist turns least from where it is (stable: ties keep their order);
                # far turns push the last joint past its limit and IK into another posture
                here = yaw_of(self.kin.tcp_pose(self.q))
                return sorted(kept, key=lambda g: abs(wrap_angle(
                    yaw_of(g.tcp_pose(obj.pose)) - here)))
            reasons.append(f"all {dropped} candidates put the open gripper in collision")
        raise RefinementError(f"no grasp for {obj.name}: " + "; ".join(dict.fromkeys(reasons)),
                              stage="pick")

    def pick_only(self, obj_name: str, rng_seed: int,
                  pick_action: tuple[str, ...] | None = None) -> Action:
        rng = np.random.default_rng(rng_seed)
        obj = self.world.objects[obj_name]
        cands = self._grasps(obj, rng)
        reasons = []
        for grasp in cands[:self.cfg.max_grasps]:
            try:
                picked = self._pick(obj, grasp, rng, self.domain.support(pick_action))
            except RefinementError as err:
                reasons.append(str(err))
                continue
            return self._pick_action(obj, grasp, *picked, pick_action)
        raise RefinementError(f"could not pick {obj_name}: " + "; ".join(dict.fromkeys(reasons)))

    def _pick_action(self, obj: WorldObject, grasp: Grasp, transit, descend, rise, lift,
                     pick_action: tuple[str, ...] | None = None,
                     carry: list[Segment] | None = None) -> Action:
        """The pick as an action; ``rise``: the arm's path while the pads close, or None;
        ``carry``: its lift as the first segment of a chain that the place goes on with
        (else the lift alone, ending at rest)."""
        name, args = (pick_action[0], tuple(pick_action[1:])) if pick_action else \
            ("pick", (obj.name,))
        follow = None if rise is None else self.segment(rise, "close").trajectory
        return Action(name, args, (
            Segment("gripper", "open", width=grasp.open_width),
            *self.chain([(transit, "transit", None), (descend, "approach", None)]),
            Segment("gripper", "close", width=0.0, holding=obj.name, trajectory=follow,
                    grip_width=grasp.width if follow is not None else None),
            *(self.chain([(lift, "lift", obj.name)]) if carry is None else carry),
        ), expects={obj.name: obj.pose.copy()})

    def _pick(self, obj: WorldObject, grasp: Grasp, rng, support: tuple[str, ...]):
        """Transit above the object, descend, close, lift (``approach_distance``):
        ``(transit, descend, rise, lift)``, ``rise`` the arm's path while the pads close
        (:meth:`sweep`; None if they do not sweep). Leaves the object attached."""
        self._check_budget()
        ch, g = self.checker, self.p.robot.gripper
        ch.gripper = g.joint_for_width(grasp.open_width)
        tcp_grasp = grasp.tcp_pose(obj.pose)
        sweep = self.sweep(grasp)
        # the pads start closing this much further along the approach, so that they meet
        # the object at the grasp's height after their sweep
        tcp_close = tcp_grasp @ translation((0, 0, sweep))
        lift = None
        distances = self.straight_distances(obj, grasp, sweep)
        for k, distance in enumerate(distances):
            tcp_pre = tcp_close @ translation((0, 0, -distance))
            # in a posture the object can be carried from upright (as from home)
            found = self._approach(tcp_pre, tcp_close, [self.q, self.p.robot.home], rng,
                                   robot=(obj.name,), prefer=lambda q: self._upright(
                                       q, self.p.robot.home, grasp.tcp_T_obj[:3, 2]))
            rise = None
            if found is not None and sweep > 0:
                ch.ignore(robot=(obj.name,))
                rise = self._straight(found[1][-1], tcp_close, tcp_grasp)
                ch.ignore()
                found = None if rise is None else found
            # from a short descent (flow) the arm may reach the grasp in a posture from
            # which the full lift does not go straight up (a joint limit): then the
            # descent is tried from higher, at last from the full height, whose line the
            # lift retraces
            if found is None:
                continue
            if k == len(distances) - 1:
                break
            lift = self._lift(obj, grasp, found[1][-1] if rise is None else rise[-1],
                              support)
            if lift is not None:
                break
        if found is None:
            raise RefinementError(f"no collision-free IK above {obj.name} with a straight "
                                  "descent onto it")
        q_pre, descend, _ = found
        q_grasp = descend[-1] if rise is None else rise[-1]
        transit = self.transit(self.q, q_pre, f"to {obj.name}")
        transit, descend = self.join(transit, descend, second_share=STRAIGHT_SHARE)
        # carry: the object leaves the world and moves with the tool
        self._hold(obj, grasp)
        if lift is None or not np.array_equal(lift[0], q_grasp):  # not checked yet
            ch.ignore(load=support)  # the load leaves its support touching it
            lift = self._straight(q_grasp, tcp_grasp, tcp_grasp @ translation(
                (0, 0, -self.cfg.approach_distance)))
            ch.ignore()
        if lift is None:
            self._undo_pick(obj)
            raise RefinementError(f"cannot lift {obj.name} straight up")
        return transit, descend, rise, lift

    def sweep(self, grasp: Grasp) -> float:
        """m the pads move along the approach while they close from the grasp's opening
        onto the object (the linkage's arc, ``GripperSpec.pad_drop``; 0 on a straight
        line): the arm descends this much further and moves back by it as they close."""
        g = self.p.robot.gripper
        sweep = g.pad_drop_at_width(grasp.width) - g.pad_drop_at_width(grasp.open_width)
        return sweep if sweep > 1e-4 else 0.0

    def _hold(self, obj: WorldObject, grasp: Grasp) -> None:
        """The checker with ``obj`` held in ``grasp``: out of the world, in the hand."""
        ch = self.checker
        ch.set_world(self.world.without(obj.name))
        ch.gripper = self.p.robot.gripper.joint_for_width(grasp.width)
        ch.attach(obj.name, obj.shape, grasp.tcp_T_obj)

    def _lift(self, obj: WorldObject, grasp: Grasp, q_grasp: np.ndarray,
              support: tuple[str, ...]) -> np.ndarray | None:
        """The straight lift of ``obj`` from ``q_grasp`` (``approach_distance``), checked
        with it held (the load may leave its support touching it), or None; the checker
        is left as it was (the hand empty and open, the object in the world)."""
        ch, tcp = self.checker, grasp.tcp_pose(obj.pose)
        self._hold(obj, grasp)
        ch.ignore(load=support)
        try:
            return self._straight(q_grasp, tcp,
                                  tcp @ translation((0, 0, -self.cfg.approach_distance)))
        finally:
            ch.ignore()
            self._undo_pick(obj)
            ch.gripper = self.p.robot.gripper.joint_for_width(grasp.open_width)

    def _undo_pick(self, obj: WorldObject) -> None:
        self.checker.detach()
        self.checker.set_world(self.world)

    def _place(self, obj: WorldObject, place_action: tuple[str, ...],
               load_may_touch: tuple[str, ...], grasp: Grasp, pose: np.ndarray, picked, rng,
               pick_action: tuple[str, ...]) -> list[Action]:
        self._check_budget()
        ch, g = self.checker, self.p.robot.gripper
        transit, descend, rise, lift = picked
        tcp_place = grasp.tcp_pose(pose)
        # the load may touch its support where it is released; where the last stretch
        # down is blocked (fingers between tight neighbours), it is let go a little higher
        # and drops onto its support
        tcp_pre = tcp_place @ translation((0, 0, -self.cfg.approach_distance))
        # a posture the load can be carried to upright first (not a wrist flipped over)
        found = self._approach(tcp_pre, tcp_place, [lift[-1], self.p.robot.home], rng,
                               RELEASE_DROPS, load=load_may_touch,
                               prefer=lambda q: self._upright(q, lift[-1]))
        if found is None:
            raise RefinementError(f"no collision-free IK above the placement with a "
                                  f"straight move down for {' '.join(place_action)}")
        q_pre, lower, tcp_place = found
        transfer = self.transit(lift[-1], q_pre, f"carrying {obj.name}")
        lift, transfer = self.join(lift, transfer, first_share=STRAIGHT_SHARE)
        transfer, lower = self.join(transfer, lower, second_share=STRAIGHT_SHARE)
        # release: the object joins the world where it comes to rest, ``drop_height``
        # below the pose it is let go at (else heights add up along a tower of placements)
        rest = pose.copy()
        rest[2, 3] -= self.cfg.placement.drop_height
        placed_world = self.world.with_pose(obj.name, rest)
        ch.detach()
        ch.set_world(placed_world)
        # release as wide as the surroundings allow: an object that turned a little in
        # the grasp can wedge its diagonal between pads opened only slightly
        retreat, release, clear = None, grasp.open_width, None
        for width in dict.fromkeys((g.stroke, (g.stroke + grasp.open_width) / 2,
                                    grasp.open_width)):
            ch.gripper = g.joint_for_width(width)
            ch.ignore(robot=(obj.name,))
            free_here = ch.is_free(lower[-1])
            retreat = None
            for distance in self.straight_distances(obj, grasp) if free_here else ():
                retreat = self._straight(lower[-1], tcp_place,
                                         tcp_place @ translation((0, 0, -distance)))
                if retreat is not None:
                    break
            if retreat is not None and self.flows:
                # the retreat may start once the pads have let go, if it is free at that
                # opening too (they go on opening on the way up): as soon as they clear
                # the object by the collision padding on either side, or once they are
                # open as for the approach
                for early in (grasp.width + 2 * ch.config.padding, grasp.open_width):
                    if early >= width:
                        continue
                    ch.gripper = g.joint_for_width(early)
                    if all(ch.edge_free(a, b) for a, b in zip(retreat[:-1], retreat[1:])):
                        clear = early
                        break
            ch.ignore()
            if retreat is not None:
                release = width
                break
        if retreat is None:
            ch.set_world(self.world.with_pose(obj.name, obj.pose))
            ch.gripper = g.joint_for_width(grasp.width)
            ch.attach(obj.name, obj.shape, grasp.tcp_T_obj)
            raise RefinementError(f"no straight retreat after {' '.join(place_action)}")
        self.world = placed_world
        self.q = retreat[-1]
        carry = self.chain([(lift, "lift", obj.name), (transfer, "transfer", obj.name),
                            (lower, "lower", obj.name)])
        pick = self._pick_action(obj, grasp, transit, descend, rise, lift, pick_action,
                                 carry=carry[:1])
        supports = {n: placed_world.objects[n].pose for n in place_action[2:]
                    if n in placed_world.objects}
        place = Action(place_action[0], tuple(place_action[1:]), (
            *carry[1:],
            Segment("gripper", "release", width=release, clear_width=clear),
            self.segment(retreat, "retreat"),
        ), expects=supports, leaves={obj.name: rest.copy()})
        return [pick, place]
