"""The pads' arc of a parallel gripper whose pads a four-bar linkage carries (the Robotiq
2F-85's): each pad stays parallel and moves on a circle about the knuckle's pivot, so that
closing moves it across and, with it, along the approach axis."""

from __future__ import annotations

import numpy as np


def pad_drop(value, radius: float, open_angle: float):
    """The pads' drop (m, along the approach) at closing travel ``value`` (m per finger;
    a float or an array) of a linkage of ``radius`` (m) open at ``open_angle`` (rad); 0
    where ``radius`` is 0 (pads on a straight line)."""
    if radius <= 0:
        return np.zeros_like(np.asarray(value, float))
    s = np.clip(np.sin(open_angle) - np.asarray(value, float) / radius, -1.0, 1.0)
    return radius * (np.sqrt(1.0 - s * s) - np.cos(open_angle))
