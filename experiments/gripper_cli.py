"""``tamp gripper``: drive a Robotiq 2F-85, or serve its simulator as a device.

    tamp gripper activate --gripper serial:/dev/ttyUSB0
    tamp gripper close --gripper tcp:192.168.1.20:502 --speed 0.05 --force 60
    tamp gripper status --gripper urcap:192.168.1.10
    tamp gripper close --sim --activate --object-width 0.04
    tamp gripper serve-sim --pty            # prints serial:/dev/pts/N

Exit codes: 0 done, 1 the gripper failed (timeout, fault, no device), 2 bad input.
The robots.robotiq package (and pymodbus behind it) is imported inside the commands.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass

from experiments import declare
from experiments import options as opt
from experiments.declare import opt as option
from experiments.options import EXIT_FAILED, EXIT_OK, UsageError

ACTIONS = ("activate", "open", "close", "status")


@dataclass(frozen=True, kw_only=True)
class _Link:
    gripper: str | None = option(None, metavar="SPEC", exclusive="where", required=True,
                                 help="serial:DEVICE, tcp:HOST:PORT (RTU gateway) or "
                                      "urcap:HOST[:PORT]")
    sim: bool = option(False, exclusive="where", required=True,
                       help="use an in-process simulator on a pseudo-terminal")
    #: s, the whole operation
    timeout: float | None = option(None, above=0, unit="s", metavar="S", help=(
        "deadline of the whole operation (activation, motion and every retry together), "
        "s; kept to within 10%% or 1 s (default: 5 for activation, the full stroke at the "
        "commanded speed for motions)"))
    #: s, one request (TransportConfig checks it)
    io_timeout: float = option(0.2, metavar="S", help=(
        "deadline of one request, s (default 0.2; with --timeout at most 10%% of it or 1 s)"))
    retries: int = option(2, range=(0, 10), help="extra attempts per request (default 2)")
    allow_remote: bool = option(False, help="allow a gripper (TCP gateway, URCap) that is "
                                            "not on loopback")


@dataclass(frozen=True, kw_only=True)
class _Device:
    device_id: int = option(9, range=(1, 247), help="Modbus slave id (default 9)")
    #: wall-clock s per simulated s
    time_factor: float | None = option(None, metavar="F", help=(
        "simulator only: wall-clock s per simulated s (default 1)"))
    #: m
    object_width: float | None = option(None, metavar="M", help=(
        "simulator only: an object of this width between the fingers"))


@dataclass(frozen=True, kw_only=True)
class LinkOptions(_Device, _Link):
    """The options of ``tamp gripper activate`` and ``status``."""


@dataclass(frozen=True, kw_only=True)
class MotionOptions(LinkOptions):
    """The options of ``tamp gripper open`` and ``close``."""

    #: m/s (GripperCalibration checks its range)
    speed: float = option(0.15, metavar="M/S", help="finger speed, 0.02..0.15 m/s "
                                                    "(default 0.15)")
    #: N
    force: float = option(235.0, metavar="N", help="grip force, 20..235 N (default 235)")
    activate: bool = option(False, help="activate first when the gripper is not activated")


@dataclass(frozen=True, kw_only=True)
class _Serve:
    tcp: str | None = option(None, metavar="HOST:PORT", exclusive="serve", required=True,
                             help="Modbus RTU frames over TCP, as a serial gateway carries "
                                  "them")
    pty: bool = option(False, exclusive="serve", required=True,
                       help="Modbus RTU on a pseudo-terminal; prints its serial: spec")
    urcap: str | None = option(None, metavar="HOST:PORT", exclusive="serve", required=True,
                               help="the URCap ASCII socket")
    #: s
    duration: float | None = option(None, above=0, unit="s", metavar="S", help=(
        "stop after this many seconds (default: run until interrupted)"))
    fault_rate: float = option(0.0, metavar="P", help=(
        "probability that an answer is dropped, cut short or corrupted"))
    seed: int = option(0, range=opt.SEED.bounds, help="seeds --fault-rate (default 0)")


@dataclass(frozen=True, kw_only=True)
class ServeOptions(_Device, _Serve):
    """The options of ``tamp gripper serve-sim``."""

    def check(self) -> None:
        if not 0 <= self.fault_rate <= 1:
            raise UsageError(f"--fault-rate must be in [0, 1], got {self.fault_rate}")


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "gripper", help="activate, open, close or read a Robotiq 2F-85 (or its simulator)",
        description="Drive a Robotiq 2F-85 over Modbus RTU (serial or TCP gateway) or the "
                    "URCap socket, or run the simulator as a device. Units: m, m/s, N, s.",
        epilog="Exit codes: 0 done, 1 the gripper failed, 2 bad input.")
    sub = p.add_subparsers(dest="gripper_command", metavar="ACTION")
    sub.required = True
    helps = {"activate": "reset and activate (needed after power-up or a major fault)",
             "open": "open fully and report where the fingers stopped",
             "close": "close fully and report whether an object stopped the fingers",
             "status": "print the decoded status registers"}
    for action in ACTIONS:
        declare.command(sub, action, MotionOptions if action in ("open", "close")
                        else LinkOptions, functools.partial(_cmd_action, action),
                        help=helps[action], description=helps[action].capitalize() + ".")
    declare.command(sub, "serve-sim", ServeOptions, _cmd_serve,
                    help="serve the simulator as a device others can talk to",
                    description="Serve the simulated 2F-85 until interrupted. Loopback "
                                "addresses only.")


def _sim_from_args(args):
    """The simulated gripper the options describe (after validating them)."""
    from robots.robotiq.simulator import GripperSim, SimConfig

    factor = 1.0 if args.time_factor is None else args.time_factor
    if not factor > 0:
        raise UsageError(f"--time-factor must be > 0, got {factor}")
    sim = GripperSim(SimConfig(time_factor=factor))
    if args.object_width is not None:
        stroke = sim.config.calibration.stroke_m
        if not 0 <= args.object_width <= stroke:
            raise UsageError(f"--object-width must be in [0, {stroke}] m, got {args.object_width}")
        sim.object_width_m = args.object_width
    return sim


def _quiet_pymodbus() -> None:
    # pymodbus logs every unanswered request at ERROR level; we report errors ourselves,
    # as one line, so its messages would only duplicate them
    import logging

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL + 1)


def _cmd_action(action: str, args: LinkOptions) -> int:
    """``tamp gripper ACTION`` (activate, open, close, status)."""
    from robots.robotiq import GripperConfig, GripperError, RobotiqGripper, TransportConfig
    from robots.robotiq.transport import SerialRtuTransport, parse_spec

    io_timeout = args.io_timeout
    if args.timeout is not None and io_timeout > 0:
        # one request may start just before the deadline: it may overrun the deadline
        # by at most 10 % of it or 1 s, whichever is larger
        io_timeout = min(io_timeout, max(0.1 * args.timeout, 1.0))
    try:
        tconfig = TransportConfig(timeout_s=io_timeout, retries=args.retries,
                                  device_id=args.device_id)
        transport = None if args.sim else parse_spec(args.gripper, tconfig)
        config = GripperConfig(watchdog_period_s=None)  # one short operation: no watchdog
        if action in ("open", "close"):
            width = config.calibration.stroke_m if action == "open" else 0.0
            config.calibration.check(width, args.speed, args.force)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if not args.sim and (args.time_factor is not None or args.object_width is not None):
        raise UsageError("--time-factor and --object-width only apply with --sim")
    host = getattr(transport, "host", None)
    if host is not None and not args.allow_remote:
        from robots.ros.transport import is_loopback_host

        if not is_loopback_host(host):
            raise UsageError(f"--gripper host {host} is not a loopback address; pass "
                             "--allow-remote to talk to another machine")

    _quiet_pymodbus()
    server = None
    if args.sim:
        from robots.robotiq.sim_servers import PtyServer, RtuSlave

        server = PtyServer(RtuSlave(_sim_from_args(args), args.device_id)).start()
        transport = SerialRtuTransport(server.path, tconfig)
    from tamp.deadline import Deadline

    try:
        with RobotiqGripper(transport, config) as gripper:
            deadline = Deadline(args.timeout)
            with gripper.within(deadline):
                return _run_action(gripper, action, args, deadline)
    except GripperError as err:
        print(f"error: {action} failed: {err}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if server is not None:
            server.close()


def _run_action(gripper, action: str, args, deadline) -> int:
    """One action; ``deadline`` (from --timeout) holds for all of it: activation, motion
    and every request's retries together."""
    def left(default: float | None) -> float | None:
        return default if deadline.never else deadline.left()

    if action == "status":
        print(_format_status(gripper.status()))
        return EXIT_OK
    if action == "activate":
        status = gripper.activate(timeout_s=left(5.0))
        print(f"activated: width {status.width_m:.4f} m")
        return EXIT_OK
    if args.activate and not gripper.status().activated:
        gripper.activate(timeout_s=left(5.0))
    move = gripper.open if action == "open" else gripper.close
    result = move(speed_m_s=args.speed, force_n=args.force, timeout_s=left(None))
    what = {"reached": "reached the end of the stroke",
            "contact_closing": "object detected while closing",
            "contact_opening": "object detected while opening"}[result.outcome.value]
    print(f"{action}: {what}, width {result.width_m:.4f} m ({result.elapsed_s:.2f} s)")
    return EXIT_OK


def _format_status(s) -> str:
    current = "n/a (not readable over this link)" if s.current_a is None \
        else f"{s.current_a:.2f} A"
    fault = "none" if not s.fault else f"0x{s.fault:02X} ({s.fault_class})"
    return "\n".join([
        f"activation: {s.activation.name.lower()}",
        f"go to:      {'yes' if s.go_to else 'no'}",
        f"object:     {s.object.name.lower() if s.go_to else '- (no go-to command)'}",
        f"fault:      {fault}",
        f"width:      {s.width_m:.4f} m (position {s.position_count}, "
        f"requested {s.requested_count})",
        f"current:    {current}"])


def _cmd_serve(args: ServeOptions) -> int:
    from robots.robotiq.sim_servers import (PtyServer, RtuSlave, TcpRtuServer, UrcapServer,
                                            require_loopback)
    from robots.robotiq.simulator import FaultInjector
    from robots.robotiq.transport import split_host_port

    address = args.tcp or args.urcap
    if address is not None:
        try:
            host, port = split_host_port(address, None)
            require_loopback(host)
        except ValueError as err:
            raise UsageError(f"{'--tcp' if args.tcp else '--urcap'}: {err}") from None
    sim = _sim_from_args(args)
    injector = FaultInjector(rate=args.fault_rate, seed=args.seed)
    try:
        if args.pty:
            server = PtyServer(RtuSlave(sim, args.device_id, injector))
            where = f"serial:{server.path} (Modbus RTU, slave id {args.device_id})"
        elif args.tcp:
            server = TcpRtuServer(RtuSlave(sim, args.device_id, injector), host, port)
            where = f"tcp:{server.host}:{server.port} (Modbus RTU over TCP, slave id " \
                    f"{args.device_id})"
        else:
            server = UrcapServer(sim, injector, host, port)
            where = f"urcap:{server.host}:{server.port} (URCap ASCII socket)"
    except OSError as err:
        print(f"error: serve-sim failed: {err}", file=sys.stderr)
        return EXIT_FAILED
    with server:
        print(f"serving the Robotiq 2F-85 simulator at {where}; Ctrl-C to stop", flush=True)
        from tamp.deadline import Deadline

        deadline = Deadline(args.duration)
        try:
            while not deadline.expired():
                time.sleep(deadline.cap(0.05))
        except KeyboardInterrupt:
            pass
    print("simulator stopped", file=sys.stderr)
    return EXIT_OK
