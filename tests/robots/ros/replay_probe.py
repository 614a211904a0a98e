"""TEST HELPER: the dry-run replay of a simulated scene's plan (``tamp deploy --task``),
but *sent*, to exercise the transport, the execution monitor and the safety checks on
the wire against the simulated controller. The command line refuses ``--execute`` with
``--task`` (a simulated scene's objects are not on a real table); only this test helper,
run against the simulated controller, sends such a plan.

    python tests/robots/ros/replay_probe.py DEPLOY-ARGS...
"""

import sys
from dataclasses import replace

from experiments.cli import UsageError, build_parser
from experiments.declare import read_options
from experiments.deploy_cli import DeployOptions, replay

if __name__ == "__main__":
    try:
        args = read_options(build_parser("deploy").parse_args(["deploy", *sys.argv[1:]]),
                            DeployOptions)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    sys.exit(replay(replace(args, execute=True)))
