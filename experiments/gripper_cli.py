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

import argparse
import sys
import time

from experiments import options as opt
from experiments.options import EXIT_FAILED, EXIT_OK, UsageError, finite_float

ACTIONS = ("activate", "open", "close", "status")


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "gripper", help="activate, open, close or read a Robotiq 2F-85 (or its simulator)",
        description="Drive a Robotiq 2F-85 over Modbus RTU (serial or TCP gateway) or the "
                    "URCap socket, or run the simulator as a device. Units: m, m/s, N, s.",
        epilog="Exit codes: 0 done, 1 the gripper failed, 2 bad input.")
    sub = p.add_subparsers(dest="gripper_command", metavar="ACTION")
    sub.required = True

    link = argparse.ArgumentParser(add_help=False)
    where = link.add_mutually_exclusive_group(required=True)
    where.add_argument("--gripper", metavar="SPEC",
                       help="serial:DEVICE, tcp:HOST:PORT (RTU gateway) or urcap:HOST[:PORT]")
    where.add_argument("--sim", action="store_true",
                       help="use an in-process simulator on a pseudo-terminal")
    link.add_argument("--timeout", type=finite_float, default=None, metavar="S",
                      help="deadline of the whole operation (activation, motion and "
                           "every retry together), s; kept to within 10%% or 1 s (default: "
                           "5 for activation, the full stroke at the commanded speed for "
                           "motions)")
    link.add_argument("--io-timeout", type=finite_float, default=0.2, metavar="S",
                      help="deadline of one request, s (default 0.2; with --timeout at most "
                           "10%% of it or 1 s)")
    link.add_argument("--retries", type=opt.int_in(0, 10), default=2,
                      help="extra attempts per request (default 2)")
    link.add_argument("--allow-remote", action="store_true",
                      help="allow a gripper (TCP gateway, URCap) that is not on loopback")
    _add_device_options(link)

    motion = argparse.ArgumentParser(add_help=False)
    motion.add_argument("--speed", type=finite_float, default=0.15, metavar="M/S",
                        help="finger speed, 0.02..0.15 m/s (default 0.15)")
    motion.add_argument("--force", type=finite_float, default=235.0, metavar="N",
                        help="grip force, 20..235 N (default 235)")
    motion.add_argument("--activate", action="store_true",
                        help="activate first when the gripper is not activated")

    helps = {"activate": "reset and activate (needed after power-up or a major fault)",
             "open": "open fully and report where the fingers stopped",
             "close": "close fully and report whether an object stopped the fingers",
             "status": "print the decoded status registers"}
    for action in ACTIONS:
        parents = [link, motion] if action in ("open", "close") else [link]
        q = sub.add_parser(action, parents=parents, help=helps[action],
                           description=helps[action].capitalize() + ".")
        q.set_defaults(func=_cmd_action)

    s = sub.add_parser("serve-sim", help="serve the simulator as a device others can talk to",
                       description="Serve the simulated 2F-85 until interrupted. Loopback "
                                   "addresses only.")
    serve = s.add_mutually_exclusive_group(required=True)
    serve.add_argument("--tcp", metavar="HOST:PORT",
                       help="Modbus RTU frames over TCP, as a serial gateway carries them")
    serve.add_argument("--pty", action="store_true",
                       help="Modbus RTU on a pseudo-terminal; prints its serial: spec")
    serve.add_argument("--urcap", metavar="HOST:PORT", help="the URCap ASCII socket")
    s.add_argument("--duration", type=finite_float, default=None, metavar="S",
                   help="stop after this many seconds (default: run until interrupted)")
    s.add_argument("--fault-rate", type=finite_float, default=0.0, metavar="P",
                   help="probability that an answer is dropped, cut short or corrupted")
    s.add_argument("--seed", type=opt.SEED, default=0, help="seeds --fault-rate (default 0)")
    _add_device_options(s)
    s.set_defaults(func=_cmd_serve)


def _add_device_options(parser) -> None:
    parser.add_argument("--device-id", type=opt.int_in(1, 247), default=9,
                        help="Modbus slave id (default 9)")
    parser.add_argument("--time-factor", type=finite_float, default=None, metavar="F",
                        help="simulator only: wall-clock s per simulated s (default 1)")
    parser.add_argument("--object-width", type=finite_float, default=None, metavar="M",
                        help="simulator only: an object of this width between the fingers")


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


def _cmd_action(args) -> int:
    from robots.robotiq import GripperConfig, GripperError, RobotiqGripper, TransportConfig
    from robots.robotiq.transport import SerialRtuTransport, parse_spec

    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout must be > 0 s, got {args.timeout}")
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
        if args.gripper_command in ("open", "close"):
            width = config.calibration.stroke_m if args.gripper_command == "open" else 0.0
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
                return _run_action(gripper, args, deadline)
    except GripperError as err:
        print(f"error: {args.gripper_command} failed: {err}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if server is not None:
            server.close()


def _run_action(gripper, args, deadline) -> int:
    """One action; ``deadline`` (from --timeout) holds for all of it: activation, motion
    and every request's retries together."""
    def left(default: float | None) -> float | None:
        return default if deadline.never else deadline.left()

    action = args.gripper_command
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


def _cmd_serve(args) -> int:
    from robots.robotiq.sim_servers import (PtyServer, RtuSlave, TcpRtuServer, UrcapServer,
                                            require_loopback)
    from robots.robotiq.simulator import FaultInjector
    from robots.robotiq.transport import split_host_port

    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be > 0 s, got {args.duration}")
    if not 0 <= args.fault_rate <= 1:
        raise UsageError(f"--fault-rate must be in [0, 1], got {args.fault_rate}")
    if not 1 <= args.device_id <= 247:
        raise UsageError(f"--device-id must be in 1..247, got {args.device_id}")
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
