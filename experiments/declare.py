"""Options as data: a command declares its options as a frozen dataclass whose fields,
made with :func:`opt`, carry the help and the limits; :func:`add_options` makes the
argparse arguments from it and :func:`read_options` the checked, typed instance.

The flag is the field's name (``time_budget`` -> ``--time-budget``) unless given; the
annotation says what the flag takes:

- ``int``: a whole number in ``range`` (inclusive; every integer option has one);
- ``float``: a finite number (``nan`` and ``inf`` refused by the parser), optionally
  ``above`` (exclusive) and ``at_most`` / ``range`` (inclusive), checked after parsing
  with a message naming the flag and the unit;
- ``bool``: a switch (``--x``; ``--no-x`` when the default is True);
- ``str``: any text, or one of ``choices`` (fixed, checked by argparse) or of ``known``
  (a function, called only after parsing, so that the names of tasks or methods need not
  be imported to build the parser);
- ``tuple[str, ...]`` / ``tuple[int, ...]``: a comma-separated list;
- ``X | None``: as ``X``, unset by default;
- a dataclass: a section of options (an argparse group titled by its ``SECTION``);
- ``positional=True``: an argument without a flag (``tamp concepts learn NAME``).

A value outside what is declared is a :class:`UsageError`: one line naming the flag,
exit code 2. After the fields, the dataclass's own ``check()`` (if any) judges them
together (``--cache-only needs --vlm-cache``).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Callable

from experiments.options import UsageError, finite_float, int_in

_KEY = "tamp.option"  #: where a field's :class:`Spec` lives in its metadata


@dataclasses.dataclass(frozen=True)
class Spec:
    """What :func:`opt` records on a field besides its default."""

    help: str
    flag: str | None = None  #: e.g. "--vlm-cache"; None: from the field's name
    range: tuple[Any, Any] | None = None  #: inclusive bounds (ints: required)
    above: float | None = None  #: exclusive lower bound (floats)
    at_most: float | None = None  #: inclusive upper bound (floats)
    unit: str = ""  #: named in range messages, e.g. "s"
    choices: tuple | None = None  #: fixed values, checked by argparse
    known: Callable[[], Any] | None = None  #: the accepted values, asked after parsing
    unknown: str = "unknown {name} '{value}'; known: {known}"  #: the message for others
    #: the argparse type, instead of the annotation's (a list's: of each item)
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    required: bool = False
    exclusive: str | None = None  #: name of a mutually exclusive group it belongs to
    positional: bool = False  #: an argument without a flag (named by its metavar)
    feeds: str | None = None  #: the method option it gives (:mod:`experiments.episode`)
    what: str = "it"  #: what it gives, in words ("a checkpoint folder"), for refusals
    list_error: str = "comma-separated values"  #: what a bad list item is told it must be


def opt(default: Any = dataclasses.MISSING, *, help: str, **spec) -> Any:
    """A dataclass field that is a command-line option (see :class:`Spec` for ``spec``)."""
    extra = {"default_factory": spec.pop("default_factory")} if "default_factory" in spec \
        else {"default": default}
    return dataclasses.field(**extra, metadata={_KEY: Spec(help=help, **spec)})


def section(cls) -> Any:
    """A field holding a dataclass of options of its own (an argparse group)."""
    return dataclasses.field(default_factory=cls)


@dataclasses.dataclass(frozen=True)
class Option:
    """One declared option: the field, its spec, and the type the annotation names."""

    name: str
    spec: Spec
    kind: type  #: int, float, bool, str or tuple
    item: type | None  #: the type of a tuple's items
    default: Any

    @property
    def flag(self) -> str:
        if self.spec.positional:
            return self.spec.metavar or self.name.upper()
        if self.spec.flag:
            return self.spec.flag
        prefix = "--no-" if self.kind is bool and self.default is True else "--"
        return prefix + self.name.replace("_", "-")


def _unwrap(hint) -> Any:
    """``X`` of ``X`` or ``X | None``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"an option is one type or None, not {hint}")
        return args[0]
    return hint


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def declared(cls) -> list[Option | tuple[str, type]]:
    """The options of ``cls`` in declaration order; a section is (field name, its class)."""
    hints = typing.get_type_hints(cls)
    out: list = []
    for f in dataclasses.fields(cls):
        hint = _unwrap(hints[f.name])
        if dataclasses.is_dataclass(hint) and _KEY not in f.metadata:
            out.append((f.name, hint))
            continue
        if _KEY not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name}: declare it with opt(...) or section(...)")
        item = None
        kind = typing.get_origin(hint) or hint
        if kind is tuple:
            args = typing.get_args(hint)
            if len(args) != 2 or args[1] is not Ellipsis or args[0] not in (str, int):
                raise TypeError(f"{cls.__name__}.{f.name}: lists are tuple[str, ...] or "
                                "tuple[int, ...]")
            item = args[0]
        elif kind not in (int, float, bool, str):
            raise TypeError(f"{cls.__name__}.{f.name}: options are int, float, bool, str, "
                            f"tuples of them or sections, not {hint}")
        spec = f.metadata[_KEY]
        if kind is int and spec.type is None and spec.range is None:
            raise TypeError(f"{cls.__name__}.{f.name}: an integer option needs a range")
        out.append(Option(f.name, spec, kind, item, _default(f)))
    return out


def flat(cls) -> list[Option]:
    """Every option of ``cls``, its sections' included."""
    return [o for d in declared(cls) for o in
            (flat(d[1]) if isinstance(d, tuple) else [d])]


def add_options(parser: argparse.ArgumentParser, cls) -> None:
    """Add an argument for every option of ``cls`` (see the module's docstring)."""
    groups: dict[str, Any] = {}
    seen: set[str] = set()
    _add(parser, parser, cls, groups, seen)


def _add(parser, target, cls, groups, seen) -> None:
    for d in declared(cls):
        if isinstance(d, tuple):
            title = getattr(d[1], "SECTION", d[0])
            _add(parser, parser.add_argument_group(title), d[1], groups, seen)
            continue
        if d.name in seen:
            raise TypeError(f"option '{d.name}' declared twice in {cls.__name__}")
        seen.add(d.name)
        spec, where = d.spec, target
        if spec.exclusive:
            if spec.exclusive not in groups:
                required = any(o.spec.exclusive == spec.exclusive and o.spec.required
                               for o in flat(cls))
                groups[spec.exclusive] = target.add_mutually_exclusive_group(
                    required=required)
            where = groups[spec.exclusive]
        kw: dict[str, Any] = {"dest": d.name, "help": spec.help,
                              "default": None if d.default is dataclasses.MISSING else d.default}
        if spec.required and not spec.exclusive:
            kw["required"] = True
        if d.kind is bool:
            kw["action"] = "store_false" if d.default is True else "store_true"
        else:  # a list's items are typed after splitting (see _checked)
            kw["type"] = None if d.kind is tuple else spec.type or _argparse_type(d)
            if spec.metavar:
                kw["metavar"] = spec.metavar
            if spec.choices is not None:
                kw["choices"] = spec.choices
        if spec.positional:
            kw.pop("dest")
            kw.pop("required", None)
            where.add_argument(d.name, **kw)
        else:
            where.add_argument(d.flag, **kw)


def _argparse_type(d: Option):
    if d.kind is int:
        return int_in(*d.spec.range)
    if d.kind is float:
        return finite_float
    return None  # text and lists (split and checked after parsing, naming the flag)


def read_options(args: argparse.Namespace, cls):
    """The instance of ``cls`` that ``args`` (parsed by a parser :func:`add_options` made)
    hold, each option checked against its declaration, then ``check()`` run."""
    values = {}
    for d in declared(cls):
        if isinstance(d, tuple):
            values[d[0]] = read_options(args, d[1])
        else:
            values[d.name] = _checked(d, getattr(args, d.name))
    made = cls(**values)
    if hasattr(made, "check"):
        made.check()
    return made


def _checked(d: Option, value):
    spec, flag = d.spec, d.flag
    if value is None:
        return value
    if d.kind is tuple and isinstance(value, str):
        items = tuple(v.strip() for v in value.split(",") if v.strip())
        if d.item is int:
            try:
                items = tuple(int(v, 10) for v in items)
            except ValueError:
                raise UsageError(f"{flag} must be {spec.list_error}, got '{value}'") from None
        if spec.type is not None:
            try:
                items = tuple(spec.type(v) for v in items)
            except argparse.ArgumentTypeError as err:
                raise UsageError(f"{flag}: {err}") from None
        value = items
    if d.kind is float:
        unit = f" {spec.unit}" if spec.unit else ""
        lo, hi = spec.range or (None, spec.at_most)
        if spec.above is not None and hi is not None and not spec.above < value <= hi:
            raise UsageError(f"{flag} must be in ({spec.above:g}, {hi:g}], got {value:g}")
        if spec.above is not None and not value > spec.above:
            raise UsageError(f"{flag} must be > {spec.above:g}{unit}, got {value:g}")
        if lo is not None and not lo <= value <= hi:
            raise UsageError(f"{flag} must be {lo:g}..{hi:g}{unit}, got {value:g}")
        if hi is not None and not value <= hi:
            raise UsageError(f"{flag} must be at most {hi:g}{unit}, got {value:g}")
    if spec.known is not None:
        known = list(spec.known())
        for v in (value if d.kind is tuple else (value,)):
            if v not in known:
                raise UsageError(spec.unknown.format(name=d.name.replace("_", " "),
                                                     value=v, known=", ".join(known)))
    return value


def given(options) -> list[str]:
    """The flags of ``options`` (and its sections) set to other than their defaults: what
    the user asked for, e.g. to refuse those a method cannot use."""
    out = []
    for d in declared(type(options)):
        if isinstance(d, tuple):
            out += given(getattr(options, d[0]))
        elif d.default is dataclasses.MISSING or getattr(options, d.name) != d.default:
            out.append(d.flag)
    return out


def fed(options) -> dict[str, str]:
    """flag -> method option, for the flags of ``options`` that were given and feed one
    (their ``feeds``)."""
    by_flag = {o.flag: o.spec.feeds for o in flat(type(options)) if o.spec.feeds}
    return {f: by_flag[f] for f in given(options) if f in by_flag}


def command(sub, name: str, cls, run: Callable[[Any], int], **parser_kw):
    """A subcommand ``name`` whose options ``cls`` declares: ``run`` is called with the
    checked instance. Returns the subparser (for more of its own)."""
    p = sub.add_parser(name, **parser_kw)
    add_options(p, cls)
    p.set_defaults(func=lambda args: run(read_options(args, cls)), options_class=cls)
    return p
