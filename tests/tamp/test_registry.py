"""One registry pattern: the same behaviour for every kind of registered thing."""

from __future__ import annotations

import pytest

from tamp.registry import DuplicateName, Registry, UnknownName


def test_unknown_names_list_the_known_ones_and_are_key_and_value_errors():
    reg: Registry[int] = Registry("widget")
    reg.add("b", 2)
    reg.add("a", 1)
    with pytest.raises(UnknownName) as err:
        reg.get("c")
    assert str(err.value) == "unknown widget 'c'; known widgets: a, b"
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
    assert reg.names() == ["a", "b"] and list(reg) == ["a", "b"] and "a" in reg


def test_a_name_registered_twice_is_refused():
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    with pytest.raises(DuplicateName, match="widget 'a' is registered twice"):
        reg.add("a", 3)
    assert reg.get("a") == 1


def test_the_loader_runs_once_before_the_first_lookup():
    calls = []
    reg: Registry[int] = Registry("widget", load=lambda: calls.append(reg.add("x", 9)))
    assert calls == []
    assert reg.get("x") == 9 and reg.names() == ["x"] and calls == [9]


def _registries():
    import robots
    from experiments.cli import COMMANDS
    from policies.base import POLICIES
    from scenes.tasks.registry import TASKS
    from tamp.domains import DOMAINS, GENERIC_STREAMS
    from tamp.perception.sensors import SENSORS

    import policies  # noqa: F401  (registers the methods)
    import scenes.tasks  # noqa: F401
    import tamp.refine  # noqa: F401  (registers place-at)

    return {"task": TASKS, "method": POLICIES, "domain": DOMAINS, "camera": SENSORS,
            "robot": robots.ROBOTS, "command": COMMANDS, "placement stream": GENERIC_STREAMS}


@pytest.mark.parametrize("kind", ["task", "method", "domain", "camera", "robot", "command",
                                  "placement stream"])
def test_every_registry_of_the_project_is_one_of_these(kind):
    reg = _registries()[kind]
    assert isinstance(reg, Registry) and len(reg) > 0
    with pytest.raises(UnknownName, match=f"unknown {kind} 'no-such-thing'; known"):
        reg.get("no-such-thing")
    name = reg.names()[0]
    with pytest.raises(DuplicateName):
        reg.add(name, reg.get(name))
