"""Shared fixtures: the robot description, and a fresh headless environment."""

from __future__ import annotations

import pytest

import robots


@pytest.fixture(scope="session")
def robot():
    return robots.load("panda_2f85")


@pytest.fixture(scope="session")
def kinematics(robot):
    from tamp.geometry.kinematics import Kinematics

    return Kinematics(robot)


@pytest.fixture
def env():
    from scenes.env import TabletopEnv

    e = TabletopEnv("place-in-bowl")
    yield e
    e.close()
