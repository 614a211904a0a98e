"""Fixtures: a simulated 2F-85 served over each link (see robotiq_sim_links.py)."""

from __future__ import annotations

import pytest
from robotiq_sim_links import served


@pytest.fixture(params=["pty", "tcp", "urcap"])
def link(request):
    with served(request.param) as served_link:
        yield served_link


@pytest.fixture(params=["pty", "tcp"])
def rtu_link(request):
    with served(request.param) as served_link:
        yield served_link
