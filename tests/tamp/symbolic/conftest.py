"""Shared helpers for the symbolic tests: PDDL text written to files and loaded."""

from __future__ import annotations

import pytest

from tamp.symbolic.pddl_io import LiftedTask, bundled_domain, bundled_problem, load_task


@pytest.fixture
def make_task(tmp_path):
    """``make_task(domain_text, problem_text) -> LiftedTask`` via files in tmp_path."""
    counter = iter(range(1_000_000))

    def make(domain: str, problem: str) -> LiftedTask:
        n = next(counter)
        d, p = tmp_path / f"domain{n}.pddl", tmp_path / f"problem{n}.pddl"
        d.write_text(domain)
        p.write_text(problem)
        return load_task(d, p)

    return make


@pytest.fixture(scope="session")
def bundled():
    """``bundled(domain, problem) -> LiftedTask`` for the shipped examples, parsed once."""
    cache: dict[tuple[str, str], LiftedTask] = {}

    def get(domain: str, problem: str) -> LiftedTask:
        if (domain, problem) not in cache:
            cache[(domain, problem)] = load_task(bundled_domain(domain), bundled_problem(problem))
        return cache[(domain, problem)]

    return get
