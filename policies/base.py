"""The policy interface and its registry."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from scenes.env import TabletopEnv
from tamp.registry import Registry


@dataclass
class EpisodeOutcome:
    """What a policy reports for one episode."""

    success: bool
    plan: list[dict[str, Any]] = field(default_factory=list)  #: [{"name", "args"}, ...]
    planning_time_s: float = 0.0
    execution_time_s: float = 0.0
    failure_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Monitor:
    """Hears about an episode's progress; the default hears nothing."""

    def stage(self, message: str) -> None:
        """A new phase began (e.g. "planning")."""

    def expect_steps(self, n: int) -> None:
        """About ``n`` control steps of execution lie ahead."""

    def step(self, env: TabletopEnv) -> None:
        """One control step was taken."""


def option(default: Any = None, help: str = "") -> Any:
    """A field of a method's :attr:`Policy.Options`: its default (the constructor's) and
    what it is, for the method listing."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class NoOptions:
    """A method that takes nothing from the episode but the scene."""


class Policy:
    """Solves one episode of an already reset environment.

    ``Options`` declares, as a frozen dataclass, what the method takes from an episode:
    each field is a keyword of the constructor, with the constructor's default. The
    episode runner hands a method only those (:func:`experiments.episode.policy_kwargs`),
    and a command refuses a flag that feeds none of them instead of dropping it."""

    name: str = ""
    Options: type = NoOptions

    def run(self, env: TabletopEnv, monitor: Monitor | None = None) -> EpisodeOutcome:
        raise NotImplementedError


#: every method (policy class), by command-line name
POLICIES: Registry[Callable[..., Policy]] = Registry("method")


def register_policy(name: str):
    def decorate(cls):
        if not (dataclasses.is_dataclass(cls.Options) and
                cls.Options.__dataclass_params__.frozen):
            raise TypeError(f"method '{name}': Options must be a frozen dataclass")
        POLICIES.add(name, cls)
        cls.name = name
        return cls
    return decorate


def policy_names() -> list[str]:
    return POLICIES.names()


def policy_class(name: str) -> Callable[..., Policy]:
    """The class registered as ``name``."""
    return POLICIES.get(name)


def option_names(cls) -> tuple[str, ...]:
    """The options the method class ``cls`` declares (its ``Options``' fields)."""
    return tuple(f.name for f in dataclasses.fields(cls.Options))


def make_policy(name: str, **kwargs) -> Policy:
    return POLICIES.get(name)(**kwargs)
