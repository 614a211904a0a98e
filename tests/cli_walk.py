"""Every option of every ``tamp`` command, found by walking the parsers (for the tests
that hold each kind of option to the same rules)."""

from __future__ import annotations

import argparse


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...]):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))
        elif action.option_strings:
            yield path, action


def options(keep) -> list[tuple[tuple[str, ...], argparse.Action]]:
    """(subcommand path, action) of every option for which ``keep(action)`` holds, each
    command's parser built as ``tamp COMMAND`` builds it; sorted by path and option."""
    from experiments.cli import COMMANDS, build_parser

    seen = {}
    for command in ["run", *dict.fromkeys(COMMANDS)]:
        for path, action in _walk(build_parser(command), ()):
            if keep(action):
                seen[(path, action.option_strings[-1])] = action
    return [(path, seen[(path, o)]) for path, o in sorted(seen)]
