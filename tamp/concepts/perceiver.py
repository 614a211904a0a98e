"""The learned perceiver: RGB-D frames of a still scene -> the planner's world model, with
objects named and described by the learned concept model and keeping their names from
one look to the next (:class:`tamp.execution.interfaces.Perceiver`).

It reads only what a real robot has: frames from a calibrated camera (a
:class:`~tamp.execution.interfaces.FrameSource`), the arm's joint state (to cut its own
points out of the cloud when there are no instance masks) and the workcell's fixed facts
(the table's height, its marked places).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from tamp.execution.interfaces import FrameSource
from tamp.execution.plan import Action
from tamp.perception.fusion import SizeFusion
from tamp.world import WorldModel, Zone

#: m of displacement that a colour mismatch costs when re-identifying objects (a match
#: must cost less); a shape mismatch costs less, as a tipped or half-hidden object can
#: look like another shape while its colour stays
MISMATCH_COST = 1.0
SHAPE_MISMATCH_COST = 0.3

#: looks (bursts of frames) of a noisy camera whose concept probabilities are averaged
#: for the first observation, in which the goal's words are grounded: a single first
#: look misnamed an object in 3 of 160 UR5e episodes (D435, seeds 95000-95019; e.g.
#: sort-by-colour 95001, a block called a box, 0.999, the next three looks "block");
#: three outvote it, for 10 more frames (0.33 s on a D435 streaming at 30 frames/s) and
#: the perception of two more looks
FIRST_LOOKS = 3

Segmentation = Literal["learned", "learned-geometric"]


class LearnedPerceiver:
    """See the module docstring. ``mode``: ``learned`` segments with the frames'
    instance masks (a simulator's), ``learned-geometric`` without (table-plane fit and
    clustering, as on a real camera). ``robot_state`` returns the arm's joint positions
    (rad) and the gripper joint, for the self-filter. ``bind`` names, for an object whose
    points carry no instance label, what it is to whoever executes the plan (a simulator's
    body; None: nothing). ``device``: the torch device the concept model is loaded on
    when no ``model`` is given (the planner's, :attr:`tamp.planner.PlannerConfig.device`);
    a given ``model`` runs where it is."""

    def __init__(self, source: FrameSource, robot, mode: Segmentation = "learned",
                 robot_state: Callable[[], tuple[np.ndarray, float]] | None = None,
                 table_height: float | None = None, zones: dict[str, Zone] | None = None,
                 concepts: str | Path | None = None, model=None,
                 bind: Callable[[np.ndarray], str] | None = None,
                 table_extent: tuple[float, float, float, float] | None = None,
                 device: str = "cpu", first_looks: int = FIRST_LOOKS):
        if mode not in ("learned", "learned-geometric"):
            raise ValueError(f"unknown perception mode '{mode}'")
        if mode == "learned-geometric" and robot_state is None:
            raise ValueError("geometric segmentation needs the robot's joint state")
        self.source = source
        self.robot = robot
        self.mode = mode
        self.robot_state = robot_state
        self.table_height = table_height
        self.zones = dict(zones or {})
        #: the concept checkpoint; None: the shipped one for the camera's sensor model
        self.concepts = concepts
        self.model = model
        self.device = device
        self.bind = bind
        #: the table top's x_min, x_max, y_min, y_max (m) when the workcell states it
        self.table_extent = table_extent
        if first_looks < 1:
            raise ValueError("first_looks must be at least 1")
        self.first_looks = first_looks
        self.kin = None  #: the robot's kinematics, for the self-filter
        self.camera_position: np.ndarray | None = None
        # what was seen last, under stable names (see ``track``)
        self._seen: dict[str, tuple[str, str, np.ndarray]] = {}
        #: stable name -> shape concept -> summed probability over the views so far
        self._shape_votes: dict[str, dict[str, float]] = {}
        self._last: dict = {}  #: stable name -> WorldObject as last seen
        #: each object's extents, the mean over the looks that agree (a look's fit errs
        #: by its frames' noise; see :mod:`tamp.perception.fusion`)
        self.sizes = SizeFusion()
        #: stable name -> what the executor calls it (instance label, or ``bind``'s answer)
        self.bindings: dict[str, str] = {}
        self.facts = None
        self.record: dict = {}

    # -- the Perceiver protocol ----------------------------------------------------------
    def remember(self):
        return dict(self._seen), dict(self._last), dict(self.bindings), self.sizes.snapshot()

    def forget_since(self, snapshot) -> None:
        *seen, sizes = snapshot
        self._seen, self._last, self.bindings = (dict(s) for s in seen)
        self.sizes.restore(sizes)

    def expect(self, step: list[Action]) -> None:
        """The objects that ``step`` put somewhere are expected there, so the next view
        names what it sees there after them (a box in a tray may look a little more like
        a block than it did on the table)."""
        for action in step:
            for name, pose in action.leaves.items():
                if name in self._seen:
                    self._seen[name] = (*self._seen[name][:2], pose[:2, 3].copy())
                if name in self._last:
                    self._last[name] = replace(self._last[name], pose=pose.copy())

    def observe(self) -> WorldModel:
        """The world as the camera and the concept model see it, under the names of the
        first observation; the first one also fills ``facts`` and ``record``: with a noisy
        camera it is ``first_looks`` looks (bursts of frames), their facts averaged, as
        the goal's words are grounded in them once and for all."""
        if self.facts is not None:
            return self._look()[0]
        looks = 1 if self.source.ideal else self.first_looks
        seen = []
        for _ in range(looks):
            world, scene, rename = self._look()
            seen.append(replace(scene.facts,
                                names=tuple(rename[n] for n in scene.facts.names)))
        from tamp.concepts.definitions import characteristic_size
        from tamp.concepts.facts import mean_facts

        # what fewer than half of the looks saw was the noise's (a phantom of the
        # geometric segmentation, a stray cluster): it is forgotten
        facts = mean_facts(seen, min_looks=looks // 2 + 1)
        for name in set(world.objects) - set(facts.names):
            self._forget(name)
        world = replace(world, objects={n: o for n, o in world.objects.items()
                                        if n in facts.names})
        # sizes from the fitted primitives (a disk's perceived radius; fused over the
        # looks), for goals that order objects by size
        self.facts = replace(facts, places=tuple(self.zones), sizes=tuple(
            characteristic_size(world.objects[n].shape) for n in facts.names))
        self.record = {**_record(scene, self.facts, rename, self.bindings),
                       "first_looks": looks,
                       "concepts_checkpoint": Path(self.concepts).name
                       if self.concepts is not None else None}
        return world

    def _forget(self, name: str) -> None:
        """Forget the object ``name`` was (seen, remembered, bound, voted on, sized)."""
        for memory in (self._seen, self._last, self.bindings, self._shape_votes):
            memory.pop(name, None)
        self.sizes.forget(name)

    def _look(self):
        """One look: the world seen (see :meth:`observe`), the scene perceived and its
        names -> stable names."""
        from tamp.concepts.runtime import perceive_scene
        from tamp.perception.scene import PerceptionConfig

        mode, exclude = "instance", None
        if self.mode == "learned-geometric":
            # no masks: the arm's own points are removed with its sphere model
            from tamp.geometry.kinematics import Kinematics
            from tamp.perception.self_filter import robot_filter

            self.kin = self.kin or Kinematics(self.robot)
            mode = "geometric"
            exclude = robot_filter(self.kin, *self.robot_state())
        source = self.source
        if self.model is None:
            from tamp.concepts.checkpoint import checkpoint_for_camera, load_checkpoint

            self.concepts = checkpoint_for_camera(source.name)
            self.model = load_checkpoint(self.concepts, self.device)
        # the workcell's table is level at a known height: the camera pose is refined
        # against it (a hand-eye calibration error shows as a tilted table)
        config = PerceptionConfig(segmentation=mode, noise=source.depth_noise(),
                                  table_height=self.table_height)
        # a real camera streams frames: while the arm is still, a burst of them is fused
        # (an ideal camera's frames would all be the same)
        frames = source.frames(1)[0] if source.ideal else source.frames(config.depth.frames)
        scene = perceive_scene(frames, self.model, config, exclude)
        self.camera_position = scene.percept.camera_position
        facts = scene.facts
        attrs = {n: (facts.attribute(n, "color")[0], facts.attribute(n, "shape")[0])
                 for n in facts.names}
        xy = {o.name: o.fit.pose[:2, 3] for o in scene.percept.objects}
        rename = self.track(attrs, xy)
        scene = self._consistent_shapes(scene, rename)
        for o in scene.percept.objects:
            # the points' instance label where there is one, else whatever ``bind`` says
            label = o.cloud.source or (self.bind(xy[o.name]) if self.bind else None)
            if label is not None:
                self.bindings[rename[o.name]] = label
        objects = self.sizes.fuse({rename[n]: replace(o, name=rename[n])
                                   for n, o in scene.world.objects.items()})
        # an object out of sight now (hidden, or in the hand) is where it was last seen
        # (unless something seen now of its colour and kind stands where it was: then
        # that is it, and the earlier view saw it in two pieces)
        objects = {**{n: o for n, o in self._last.items()
                      if n not in objects and not seen_again(o, objects.values())},
                   **objects}
        self._last = objects
        # the table's marked places (towers-of-hanoi's place_1..3, the pyramid's bottom
        # slots) are fixed markings of the workcell, known to the robot like a map and not
        # objects the camera segments
        world = replace(scene.world, objects=objects, zones=dict(self.zones))
        if self.table_extent is not None:
            world = replace(world, table_extent=tuple(self.table_extent))
        return world, scene, rename

    # -- identity ------------------------------------------------------------------------
    def _consistent_shapes(self, scene, rename: dict[str, str]):
        """``scene`` with each object's shape the one its views so far support most
        (summed probabilities under its stable name): an object does not change shape
        between views, but a view of it half covered (a disk under a smaller one shows
        a ring) can read as another shape. Refitted where a shape changes."""
        from tamp.concepts.definitions import SHAPE_KIND
        from tamp.perception.scene import refit, world_model

        facts = scene.facts
        shapes, changed = {}, False
        for n in facts.names:
            shape, p = facts.attribute(n, "shape")
            votes = self._shape_votes.setdefault(rename[n], {})
            votes[shape] = votes.get(shape, 0.0) + p
            shapes[n] = max(votes, key=votes.get)
            changed |= shapes[n] != shape
        if not changed:
            return scene
        percept = refit(scene.percept, {n: SHAPE_KIND[v] for n, v in shapes.items()})
        world = world_model(percept, {n: (shapes[n], facts.attribute(n, "color")[0])
                                      for n in facts.names})
        return replace(scene, percept=percept, world=replace(world, zones=scene.world.zones))

    def track(self, attrs: dict[str, tuple[str, str]], xy: dict[str, np.ndarray]
              ) -> dict[str, str]:
        """Perceived names -> stable names: each object is matched to the one seen before
        of the same colour (and shape, preferably) that moved least (one assignment for
        all); an object never seen before gets a new name."""
        from scipy.optimize import linear_sum_assignment

        new = list(attrs)
        old = list(self._seen)
        rename = {}
        if old and new:
            cost = np.array([[np.linalg.norm(xy[n] - self._seen[o][2])
                              + MISMATCH_COST * (attrs[n][0] != self._seen[o][0])
                              + SHAPE_MISMATCH_COST * (attrs[n][1] != self._seen[o][1])
                              for o in old] for n in new])
            rows, cols = linear_sum_assignment(cost)
            rename = {new[r]: old[c] for r, c in zip(rows, cols)
                      if cost[r, c] < MISMATCH_COST}
        taken = set(rename.values()) | set(self._seen)
        k = 0
        for n in new:
            if n not in rename:
                while f"obj_{k}" in taken:
                    k += 1
                rename[n] = f"obj_{k}"
                taken.add(rename[n])
        for n in new:
            self._seen[rename[n]] = (*attrs[n], xy[n])
        return rename


def seen_again(remembered, seen) -> bool:
    """Whether an object of ``seen`` has the colour and category of ``remembered`` and
    stands where it stood (its centre within the other's footprint, at its height)."""
    from tamp.geometry.placements import footprint_half

    for o in seen:
        if (o.color, o.category) != (remembered.color, remembered.category):
            continue
        reach = max(max(footprint_half(o)), max(footprint_half(remembered)))
        if np.linalg.norm(o.position[:2] - remembered.position[:2]) < reach and \
                abs(o.position[2] - remembered.position[2]) < 0.5 * o.shape.height:
            return True
    return False


def _record(scene, facts, rename: dict[str, str], bindings: dict[str, str]) -> dict:
    """What the first observation saw, for the result file."""
    objects = []
    for o in scene.percept.objects:
        name = rename[o.name]
        if name not in facts.names:  # seen by too few of the looks
            continue
        attrs = {g: facts.attribute(name, g) for g in facts.groups}
        objects.append({
            "name": name, **{g: v for g, (v, _) in attrs.items()},
            **{f"{g}_confidence": round(p, 4) for g, (_, p) in attrs.items()},
            "primitive": o.fit.kind, "size_m": [round(float(v), 4) for v in o.fit.shape.size],
            "position_m": [round(float(v), 4) for v in o.fit.pose[:3, 3]],
            "points": o.cloud.n,
            "resting_on": rename.get(o.support, "table") if o.support else "table",
            **({"simulator_name": bindings[name]} if name in bindings else {})})
    return {"perception_time_s": round(scene.perception_s, 4),
            "concepts_time_s": round(scene.concepts_s, 4),
            "perceived_objects": objects,
            "perceived_facts": [{"fact": " ".join(f), "confidence": round(p, 4)}
                                for f, p in facts.facts()]}
