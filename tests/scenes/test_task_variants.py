"""Protocol variants of a task (towers-of-hanoi-3: the Ravens protocol's three disks) are
tasks of their own, named explicitly and left out of ``all``."""

from __future__ import annotations

import numpy as np

from scenes.tasks import make_task, suite_names, task_names


def test_towers_of_hanoi_3_has_three_disks_on_every_seed():
    task = make_task("towers-of-hanoi-3")
    assert task.variant_of == "towers-of-hanoi"
    counts = {len(task.sample(np.random.default_rng(s)).objects) for s in range(40)}
    assert counts == {3}
    inst = task.sample(np.random.default_rng(1))
    assert inst.description == "move the 3 disks from place 1 to place 3"
    assert inst.domain == "hanoi-tabletop"
    # the original keeps drawing 3 or 4
    original = make_task("towers-of-hanoi")
    assert {len(original.sample(np.random.default_rng(s)).objects)
            for s in range(40)} == {3, 4}


def test_variants_are_registered_but_not_in_all():
    assert "towers-of-hanoi-3" in task_names()
    assert "towers-of-hanoi-3" not in suite_names()
    assert set(suite_names()) == {n for n in task_names() if n != "towers-of-hanoi-3"}


def test_bench_all_names_the_suite():
    from experiments.bench_cli import _tasks

    assert _tasks("all") == tuple(suite_names())
    assert _tasks("towers-of-hanoi-3") == ("towers-of-hanoi-3",)
