"""The pads' arc of a parallel gripper whose pads a four-bar linkage carries (the Robotiq
2F-85's): each pad stays parallel and moves on a circle about the knuckle's pivot, so that
closing moves it across and, with it, along the approach axis."""

from __future__ import annotations

import math


def pad_drop(value, radius: float, open_angle: float):
    """The pads' drop (m, along the approach) at closing travel ``value`` (m per finger: a
    float, a numpy array or a torch tensor, answered in kind) of a linkage of ``radius``
    (m) open at ``open_angle`` (rad); 0 where ``radius`` is 0 (pads on a straight line)."""
    if radius <= 0:
        return value * 0.0
    s = math.sin(open_angle) - value / radius
    s = s.clip(-1.0, 1.0) if hasattr(s, "clip") else min(1.0, max(-1.0, s))
    # cos x - cos a written as (sin^2 a - sin^2 x) / (cos x + cos a): exactly 0 when open
    sin_a = math.sin(open_angle)
    return radius * (sin_a * sin_a - s * s) / ((1.0 - s * s) ** 0.5 + math.cos(open_angle))
