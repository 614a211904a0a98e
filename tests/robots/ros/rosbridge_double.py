"""TEST DOUBLE of a rosbridge server (rosbridge v2 JSON protocol over a websocket).

No rosbridge server can be installed here, so the rosbridge transport is tested against
this stand-in. It is NOT rosbridge: it implements only what the transport uses, at the
protocol level, on 127.0.0.1 -

- ``auth`` (rosauth: SHA-512 MAC over secret + fields; without a valid one every other
  operation is ignored, as rosbridge does);
- ``advertise``/``unadvertise``/``publish``/``subscribe``/``unsubscribe``;
- ``call_service`` for ``/rosapi/get_param`` (the controller's ``joints`` parameter);
- ROS 1 robots: a FollowJointTrajectory action server on actionlib's topics
  (``goal``/``cancel`` in, ``status``/``result`` out), like roslibpy's ROS 1 ActionClient
  expects;
- ROS 2 robots: ``send_action_goal``/``cancel_action_goal`` answered with
  ``action_result``, and ``controller_state`` with the joint names;
- a simulated arm: ``/joint_states`` at 50 Hz, goals played back ``--time-scale`` times
  faster than planned, goals with the wrong joints rejected (INVALID_JOINTS).

It checks message types and the ROS-version-specific time fields (``secs/nsecs`` vs
``sec/nanosec``) and records every operation it receives, one JSON object per line, in
``--record FILE`` so that tests can assert on exactly what was sent.

    python tests/robots/ros/rosbridge_double.py --port 0 --record ops.jsonl
    (prints "READY <port>" once listening)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

HOME = [0.0, -0.785398, 0.0, -2.356194, 0.0, 1.570796, 0.785398]
JOINTS = [f"panda_joint{i}" for i in range(1, 8)]
CONTROLLER = "/position_joint_trajectory_controller"


class Double:
    """The server's state; every method runs on the event loop thread."""

    def __init__(self, args):
        self.args = args
        self.v = args.ros_version
        self.joints = args.joints.split(",") if args.joints else list(JOINTS)
        self.q = np.array(HOME[:len(self.joints)], float)
        self.clients: set = set()
        self.subs: dict[str, set] = {}  # topic -> protocols subscribed
        self.motion = None  # (times, positions (controller order), start, goal record)
        self.goals: dict[str, dict] = {}  # ROS 1 goal id -> {"status", "proto"}
        self.record_file = open(args.record, "a") if args.record else None
        self.ns = args.controller
        self.action = f"{args.controller}/follow_joint_trajectory"
        self.last_status = 0.0

    # -- plumbing -----------------------------------------------------------------------
    def record(self, entry: dict) -> None:
        if self.record_file:
            self.record_file.write(json.dumps(entry) + "\n")
            self.record_file.flush()

    def error(self, text: str) -> None:
        self.record({"op": "_double_error", "text": text})

    @staticmethod
    def send(proto, msg: dict) -> None:
        proto.sendMessage(json.dumps(msg).encode(), isBinary=False)

    def publish(self, topic: str, msg: dict) -> None:
        for proto in list(self.subs.get(topic, ())):
            self.send(proto, {"op": "publish", "topic": topic, "msg": msg})

    def stamp(self) -> dict:
        t = time.time()
        s = int(t)
        ns = int((t - s) * 1e9)
        return {"secs": s, "nsecs": ns} if self.v == 1 else {"sec": s, "nanosec": ns}

    def duration(self, d: dict) -> float:
        keys = ("secs", "nsecs") if self.v == 1 else ("sec", "nanosec")
        if set(d) != set(keys):
            raise ValueError(f"time field {d} should have exactly {keys} for ROS {self.v}")
        return d[keys[0]] + d[keys[1]] * 1e-9

    def type_ok(self, given: str, ros1: str) -> bool:
        package, name = ros1.split("/")
        want = ros1 if self.v == 1 else f"{package}/msg/{name}"
        if given != want:
            self.error(f"type {given!r}, expected {want!r}")
        return given == want

    # -- incoming operations ------------------------------------------------------------
    def handle(self, proto, msg: dict) -> None:
        self.record(msg)
        op = msg.get("op")
        if self.args.secret and not proto.authenticated:
            if op == "auth" and self.auth_ok(msg):
                proto.authenticated = True
            else:
                self.error(f"unauthenticated '{op}' ignored")
            return
        if op == "subscribe":
            topic = msg["topic"]
            types = {"/joint_states": "sensor_msgs/JointState",
                     f"{self.action}/status": "actionlib_msgs/GoalStatusArray",
                     f"{self.ns}/controller_state":
                         "control_msgs/JointTrajectoryControllerState"}
            if topic in types and not self.type_ok(msg.get("type", ""), types[topic]):
                return
            self.subs.setdefault(topic, set()).add(proto)
        elif op == "unsubscribe":
            self.subs.get(msg["topic"], set()).discard(proto)
        elif op == "publish":
            self.on_publish(proto, msg["topic"], msg["msg"])
        elif op == "call_service":
            self.on_service(proto, msg)
        elif op == "send_action_goal":
            self.on_ros2_goal(proto, msg)
        elif op == "cancel_action_goal":
            self.on_ros2_cancel(msg)
        elif op not in ("advertise", "unadvertise", "auth"):
            self.error(f"unsupported op {op!r}")

    def auth_ok(self, m: dict) -> bool:
        text = f"{self.args.secret}{m['client']}{m['dest']}{m['rand']}{int(m['t'])}" \
               f"{m['level']}{int(m['end'])}"
        fresh = abs(time.time() - m["t"]) < 60 and m["end"] > time.time()
        return fresh and hashlib.sha512(text.encode()).hexdigest() == m["mac"]

    def on_service(self, proto, msg: dict) -> None:
        values, ok = {}, True
        if msg["service"] == "/rosapi/get_param":
            name = msg["args"]["name"]
            value = self.joints if name == f"{self.ns}/joints" else None
            values = {"value": json.dumps(value) if value is not None else ""}
        else:
            ok, values = False, f"service {msg['service']} does not exist"
        self.send(proto, {"op": "service_response", "id": msg.get("id"),
                          "service": msg["service"], "values": values, "result": ok})

    def on_publish(self, proto, topic: str, msg: dict) -> None:
        if self.v == 1 and topic == f"{self.action}/goal":
            self.on_ros1_goal(proto, msg)
        elif self.v == 1 and topic == f"{self.action}/cancel":
            gid = msg.get("id", "")
            for goal_id, g in self.goals.items():
                if g["status"] in (0, 1) and (gid in ("", goal_id)):
                    self.finish_ros1(goal_id, 2, 0, "canceled")
        elif topic == f"{self.ns}/{'command' if self.v == 1 else 'joint_trajectory'}":
            if not msg["points"]:
                self.motion = None
            else:
                self.start(msg, None)

    # -- goals --------------------------------------------------------------------------
    def check_goal(self, goal: dict) -> tuple[int, str]:
        traj = goal["trajectory"]
        if sorted(traj["joint_names"]) != sorted(self.joints) or \
                len(set(traj["joint_names"])) != len(traj["joint_names"]):
            return -2, f"joints {traj['joint_names']} are not {self.joints}"
        try:
            for p in traj["points"]:
                self.duration(p["time_from_start"])
            self.duration(traj["header"]["stamp"])
            self.duration(goal["goal_time_tolerance"])
        except (ValueError, KeyError) as err:
            self.error(str(err))
            return -1, str(err)
        if self.v == 2 and "seq" in traj["header"]:
            self.error("ROS 2 headers have no seq")
            return -1, "ROS 2 headers have no seq"
        if not traj["points"]:
            return -1, "no points"
        return 0, ""

    def start(self, traj: dict, goal_ref) -> None:
        order = [traj["joint_names"].index(n) for n in self.joints]
        times = np.array([self.duration(p["time_from_start"]) for p in traj["points"]])
        q = np.array([p["positions"] for p in traj["points"]])[:, order]
        self.motion = (times, q, time.monotonic(), goal_ref)

    def on_ros1_goal(self, proto, msg: dict) -> None:
        gid = msg["goal_id"]["id"]
        self.goals[gid] = {"status": 0, "proto": proto, "stamp": msg["goal_id"]["stamp"]}
        code, text = self.check_goal(msg["goal"])
        if code:
            return self.finish_ros1(gid, 5, code, text)
        self.goals[gid]["status"] = 1
        if self.motion is not None and self.motion[3] is not None:
            self.finish_motion(2, 0, "replaced by a new goal")
        self.start(msg["goal"]["trajectory"], ("ros1", gid))

    def finish_ros1(self, gid: str, status: int, code: int, text: str) -> None:
        g = self.goals[gid]
        g["status"] = status
        if self.motion is not None and self.motion[3] == ("ros1", gid):
            self.motion = None
        self.publish_status()
        self.publish(f"{self.action}/result", {
            "header": {"seq": 0, "stamp": self.stamp(), "frame_id": ""},
            "status": {"goal_id": {"id": gid, "stamp": g["stamp"]}, "status": status,
                       "text": text},
            "result": {"error_code": code, "error_string": text}})

    def on_ros2_goal(self, proto, msg: dict) -> None:
        if msg.get("action") != self.action or \
                msg.get("action_type") != "control_msgs/action/FollowJointTrajectory":
            self.error(f"unexpected action {msg.get('action')} / {msg.get('action_type')}")
            self.send(proto, {"op": "action_result", "id": msg["id"], "action": msg["action"],
                              "values": "unknown action", "status": 6, "result": False})
            return
        code, text = self.check_goal(msg["args"])
        ref = ("ros2", msg["id"], proto, msg["action"])
        if code:
            return self.reply_ros2(ref, 6, code, text)
        if self.motion is not None and self.motion[3] is not None:
            self.finish_motion(5, 0, "replaced by a new goal")
        self.start(msg["args"]["trajectory"], ref)

    def on_ros2_cancel(self, msg: dict) -> None:
        if self.motion is not None and self.motion[3] is not None \
                and self.motion[3][0] == "ros2" and self.motion[3][1] == msg["id"]:
            self.finish_motion(5, 0, "canceled")

    @staticmethod
    def reply_ros2(ref, status: int, code: int, text: str) -> None:
        _, rid, proto, action = ref
        Double.send(proto, {"op": "action_result", "id": rid, "action": action,
                            "values": {"error_code": code, "error_string": text},
                            "status": status, "result": True})

    def finish_motion(self, status: int, code: int, text: str) -> None:
        """End the running goal; ``status`` in this robot's ROS version's numbering."""
        ref = self.motion[3]
        self.motion = None
        if ref is None:
            return
        if ref[0] == "ros1":
            self.finish_ros1(ref[1], status, code, text)
        else:
            self.reply_ros2(ref, status, code, text)

    # -- periodic -----------------------------------------------------------------------
    def publish_status(self) -> None:
        self.publish(f"{self.action}/status", {
            "header": {"seq": 0, "stamp": self.stamp(), "frame_id": ""},
            "status_list": [{"goal_id": {"id": gid, "stamp": g["stamp"]},
                             "status": g["status"], "text": ""}
                            for gid, g in self.goals.items()]})

    def tick(self) -> None:
        if self.motion is not None:
            times, q, start, ref = self.motion
            t = (time.monotonic() - start) * self.args.time_scale
            if self.args.stall:
                t = 0.0  # a controller that never moves: the client's monitor must cancel
            k = int(np.searchsorted(times, t, side="right"))
            self.q = q[min(k, len(q) - 1)].copy()
            if t >= times[-1]:
                self.q = q[-1].copy()
                self.finish_motion(3 if self.v == 1 else 4, 0, "")
        header = {"stamp": self.stamp(), "frame_id": ""}
        if self.v == 1:
            header["seq"] = 0
        self.publish("/joint_states", {"header": header, "name": self.joints,
                                       "position": self.q.tolist(), "velocity": [],
                                       "effort": []})
        if time.monotonic() - self.last_status > 0.2:
            self.last_status = time.monotonic()
            if self.v == 1:
                self.publish_status()
            else:
                self.publish(f"{self.ns}/controller_state", {"joint_names": self.joints})


def serve(args) -> None:
    from autobahn.asyncio.websocket import WebSocketServerFactory, WebSocketServerProtocol

    double = Double(args)

    class Protocol(WebSocketServerProtocol):
        authenticated = False

        def onOpen(self):
            double.clients.add(self)

        def onMessage(self, payload, is_binary):
            try:
                double.handle(self, json.loads(payload.decode()))
            except Exception as err:  # a malformed request is recorded, the server lives on
                double.error(f"{type(err).__name__}: {err}")

        def onClose(self, was_clean, code, reason):
            double.clients.discard(self)
            for subscribers in double.subs.values():
                subscribers.discard(self)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    factory = WebSocketServerFactory()
    factory.protocol = Protocol
    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", args.port))
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)

    def periodic():
        double.tick()
        loop.call_later(0.02, periodic)

    loop.call_soon(periodic)
    loop.run_forever()


def main() -> int:
    p = argparse.ArgumentParser(description="rosbridge protocol TEST DOUBLE (see docstring)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ros-version", type=int, choices=(1, 2), default=1)
    p.add_argument("--controller", default=CONTROLLER)
    p.add_argument("--joints", default="", help="comma-separated controller joints")
    p.add_argument("--secret", default="", help="require rosauth with this secret")
    p.add_argument("--time-scale", type=float, default=20.0)
    p.add_argument("--stall", action="store_true", help="accept goals but never move")
    p.add_argument("--record", type=Path, help="append every received operation here")
    serve(p.parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
