"""The policy interface and its registry."""

from __future__ import annotations

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


class Policy:
    """Solves one episode of an already reset environment."""

    name: str = ""

    def run(self, env: TabletopEnv, monitor: Monitor | None = None) -> EpisodeOutcome:
        raise NotImplementedError


#: every method (policy class), by command-line name
POLICIES: Registry[Callable[..., Policy]] = Registry("method")


def register_policy(name: str):
    def decorate(cls):
        POLICIES.add(name, cls)
        cls.name = name
        return cls
    return decorate


def policy_names() -> list[str]:
    return POLICIES.names()


def policy_class(name: str) -> Callable[..., Policy]:
    """The class registered as ``name``."""
    return POLICIES.get(name)


def make_policy(name: str, **kwargs) -> Policy:
    return POLICIES.get(name)(**kwargs)
