"""Options as data (:mod:`experiments.declare`): the flags, their checks and their help
made from a dataclass; the commands' parsers made so; the methods' declared options and
the refusal of a flag that the method cannot use."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, FrozenInstanceError, dataclass, field
from typing import ClassVar

import pytest

from cli_walk import options as walk
from experiments.cli import build_parser, main
from experiments.declare import add_options, flat, given, opt, read_options
from experiments.options import EXIT_USAGE, Parser, UsageError


@dataclass(frozen=True)
class Section:
    SECTION: ClassVar[str] = "the section's title"

    level: int = opt(2, range=(1, 5), help="a level")
    loud: bool = opt(False, help="say more")


@dataclass(frozen=True)
class Toy:
    count: int = opt(3, range=(1, 10), help="how many")
    budget: float = opt(5.0, above=0, unit="s", help="a budget, s")
    share: float = opt(0.5, range=(0.0, 1.0), help="a share")
    scale: float = opt(1.0, above=0, at_most=20, help="a scale")
    mode: str = opt("a", choices=("a", "b"), help="a or b")
    colour: str = opt("red", known=lambda: ("red", "green"), help="a colour")
    names: tuple[str, ...] = opt(("x", "y"), help="comma-separated names")
    seeds: tuple[int, ...] = opt((), list_error="comma-separated integers", help="seeds")
    label: str | None = opt(None, metavar="TEXT", help="a label")
    cache: bool = opt(True, help="keep the cache")  # default True: --no-cache
    extra: Section = field(default_factory=Section)

    def check(self) -> None:
        if self.label == "bad":
            raise UsageError("--label must not be bad")


def read(*argv: str) -> Toy:
    parser = Parser(prog="toy")
    add_options(parser, Toy)
    return read_options(parser.parse_args(list(argv)), Toy)


def refused(*argv: str) -> str:
    with pytest.raises(UsageError) as err:
        read(*argv)
    text = str(err.value)
    assert "\n" not in text
    return text


def test_the_defaults_are_the_dataclass_s_and_the_instance_is_frozen():
    toy = read()
    assert toy == Toy()
    assert (toy.count, toy.names, toy.seeds, toy.cache, toy.extra.level) == (3, ("x", "y"),
                                                                             (), True, 2)
    with pytest.raises(FrozenInstanceError):
        toy.count = 4


def test_each_type_is_read_from_its_flag():
    toy = read("--count", "7", "--budget", "0.5", "--share", "1", "--mode", "b", "--colour",
               "green", "--names", "p, q,,r", "--seeds", "4,5", "--label", "hi",
               "--no-cache", "--level", "5", "--loud")
    assert (toy.count, toy.budget, toy.share, toy.mode, toy.colour) == (7, 0.5, 1.0, "b",
                                                                        "green")
    assert toy.names == ("p", "q", "r") and toy.seeds == (4, 5) and toy.label == "hi"
    assert toy.cache is False and toy.extra == Section(5, True)
    assert isinstance(toy.count, int) and isinstance(toy.budget, float)


@pytest.mark.parametrize("argv, expected", [
    (["--count", "0"], "argument --count: must be 1..10, got 0"),
    (["--count", "11"], "must be 1..10, got 11"),
    (["--count", "2.5"], "argument --count: '2.5' is not a whole number"),
    (["--level", "9"], "argument --level: must be 1..5, got 9"),
    (["--budget", "nan"], "argument --budget: 'nan' is not a finite number"),
    (["--budget", "inf"], "argument --budget: 'inf' is not a finite number"),
    (["--budget=-inf"], "argument --budget: '-inf' is not a finite number"),
    (["--budget", "ten"], "argument --budget: 'ten' is not a number"),
    (["--budget", "0"], "--budget must be > 0 s, got 0"),
    (["--share", "1.5"], "--share must be 0..1, got 1.5"),
    (["--scale", "0"], "--scale must be in (0, 20], got 0"),
    (["--scale", "21"], "--scale must be in (0, 20], got 21"),
    (["--mode", "c"], "argument --mode: invalid choice: 'c'"),
    (["--colour", "blue"], "unknown colour 'blue'; known: red, green"),
    (["--seeds", "1,x"], "--seeds must be comma-separated integers, got '1,x'"),
    (["--label", "bad"], "--label must not be bad"),
    (["--cache"], "unrecognized arguments: --cache"),
])
def test_a_value_outside_the_declaration_is_one_line_naming_the_flag(argv, expected):
    assert expected in refused(*argv)


def test_help_comes_from_the_fields():
    parser = Parser(prog="toy")
    add_options(parser, Toy)
    text = parser.format_help()
    for o in flat(Toy):
        assert o.flag in text and o.spec.help in " ".join(text.split())
    assert "the section's title:" in text and "--label TEXT" in text and "--no-cache" in text


def test_given_names_the_flags_set_to_other_than_their_defaults():
    assert given(read()) == []
    assert given(read("--count", "3", "--no-cache", "--loud")) == ["--no-cache", "--loud"]


def test_a_field_without_a_declaration_or_an_int_without_a_range_is_refused():
    @dataclass(frozen=True)
    class Bare:
        n: int = 3

    @dataclass(frozen=True)
    class Unbounded:
        n: int = opt(3, help="no range")

    for cls in (Bare, Unbounded):
        with pytest.raises(TypeError, match="n"):
            add_options(argparse.ArgumentParser(), cls)


# -- the commands' parsers --------------------------------------------------------------
def _commands(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))
    if path:
        yield path, parser


DECLARED = [(p, s) for p, s in _commands(build_parser()) if s.get_default("options_class")]


def test_the_commands_are_declared():
    """Every command that takes options declares them (``tamp tasks`` takes none)."""
    leaves = {" ".join(p) for p, s in _commands(build_parser())
              if not any(isinstance(a, argparse._SubParsersAction) for a in s._actions)}
    names = {" ".join(p) for p, _ in DECLARED}
    assert leaves - names == {"tasks"}
    assert {"run", "bench episodes", "bench perception", "bench geometry", "bench twin",
            "deploy", "twin", "concepts learn", "policies train", "gripper close", "pddl",
            "model-server"} <= names


@pytest.mark.parametrize("path, parser", DECLARED, ids=[" ".join(p) for p, _ in DECLARED])
def test_a_declared_command_s_parser_is_its_dataclass(path, parser):
    cls = parser.get_default("options_class")
    flags = {a.option_strings[-1] if a.option_strings else a.metavar: a.dest
             for a in parser._actions if a.dest != "help"}
    assert flags == {o.flag: o.name for o in flat(cls)}
    # the defaults the command sees are the dataclass's
    assert {o.name: parser.get_default(o.name) for o in flat(cls)} == \
        {o.name: None if o.default is MISSING else o.default for o in flat(cls)}


def test_every_option_of_every_command_has_help():
    bare = [f"{' '.join(p)} {a.option_strings[-1]}" for p, a in walk(lambda a: True)
            if not (a.help or "").strip()]
    assert not bare


# -- the methods' options ----------------------------------------------------------------
def test_each_method_declares_what_its_constructor_takes():
    import inspect

    from policies import policy_names
    from policies.base import option_names, policy_class

    for name in policy_names():
        cls = policy_class(name)
        params = inspect.signature(cls).parameters
        for f in option_names(cls):
            assert f in params, f"{name}: declares '{f}', its constructor has no such keyword"
            assert params[f].default == cls.Options.__dataclass_fields__[f].default, (name, f)
    assert "goal" in option_names(policy_class("tamp"))
    assert "goal" not in option_names(policy_class("bc-1demo"))
    assert "perception" not in option_names(policy_class("tamp-learned"))


def test_the_episode_hands_a_method_only_what_it_declares():
    from dataclasses import dataclass as dc

    from experiments.episode import EpisodeSpec, policy_kwargs, unusable_options
    from policies.base import Policy, option

    @dc(frozen=True)
    class GoalOnly:
        goal: str | None = option(None, "the goal in words")

    class Toy(Policy):
        Options = GoalOnly

    spec = EpisodeSpec("lift", 3, "tamp", goal="put the red block in the bowl",
                       options={"checkpoints": "x", "model": "m"})
    assert policy_kwargs(spec, Toy) == {"goal": "put the red block in the bowl"}
    assert unusable_options("bc-1demo", ["goal", "checkpoints"]) == ["goal"]
    assert unusable_options("vlm", ["model", "perception"]) == ["perception"]


@pytest.mark.parametrize("argv, expected", [
    (["run", "--method", "tamp", "--vlm-model", "m"],
     "--vlm-model: method 'tamp' cannot use it (it would be ignored)"),
    (["run", "--method", "bc-1demo", "--cache-only"], "--cache-only: method 'bc-1demo'"),
    (["run", "--method", "transporter-1demo", "--concepts", "x"],
     "--concepts: method 'transporter-1demo' cannot use it"),
    (["bench", "episodes", "--methods", "tamp,bc-1demo", "--vlm-cache", "x"],
     "--vlm-cache: none of the methods tamp, bc-1demo uses it"),
])
def test_a_flag_the_method_cannot_use_is_refused(argv, expected, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "out")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()  # refused before any work
