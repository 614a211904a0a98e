"""TEST HELPER: the dry-run replay of a simulated scene's plan (``tamp deploy --task``),
but *sent*, to exercise the transport, the execution monitor and the safety checks on
the wire against the simulated controller. The command line refuses ``--execute`` with
``--task`` (a simulated scene's objects are not on a real table); only this test helper,
run against the simulated controller, sends such a plan.

    python tests/robots/ros/replay_probe.py DEPLOY-ARGS...
"""

import sys

from experiments.cli import UsageError, build_parser
from experiments.deploy_cli import _validate, replay

if __name__ == "__main__":
    args = build_parser("deploy").parse_args(["deploy", *sys.argv[1:]])
    try:
        _validate(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    args.execute = True
    sys.exit(replay(args))
