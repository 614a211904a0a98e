"""The settings of segmentation.

They have a module of their own because every stage of segmentation reads them: the table
fit (:mod:`tamp.perception.table`), the split of clusters into objects
(:mod:`tamp.perception.split`, :mod:`tamp.perception.solids`) and the entry points
(:mod:`tamp.perception.segment`), which import one another in that order. Lengths are in
m, in the world frame.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentationConfig:
    #: region that may hold objects (x_min, x_max, y_min, y_max, z_max), m, world frame;
    #: excludes the robot's base (x < 0.15) and its arm above the table at home
    workspace: tuple[float, float, float, float, float] = (0.15, 0.9, -0.6, 0.6, 0.30)
    plane_threshold: float = 0.004  #: m, RANSAC inlier distance to the table plane
    plane_iterations: int = 300
    min_height: float = 0.004  #: m above the plane for a point to belong to an object
    cluster_eps: float = 0.015  #: m, DBSCAN neighbourhood (about 3 pixels at 1 m)
    cluster_min_points: int = 6
    #: colour split: histogram cell in chromaticity (r, g) / (r + g + b)
    color_eps: float = 0.03
    #: a colour part with fewer points (edge pixels, highlights) joins its nearest part
    color_min_points: int = 20
    min_points: int = 20  #: objects with fewer visible points are dropped
    seed: int = 0  #: RANSAC and DBSCAN are seeded for repeatable results
    #: split clusters of one colour into objects by their geometry (see
    #: :func:`tamp.perception.split.split_cluster`)
    split: bool = True
    #: m, radii of a bowl's rim that are looked for
    bowl_radius: tuple[float, float] = (0.05, 0.25)
    bowl_rim_tol: float = 0.004  #: m, distance of a rim point to the fitted circle
    #: a rim whose hull fills more of its smallest rectangle than this is a tray's
    rectangular_fill: float = 0.92
    #: m a point must stand above the bowl's floor or wall to belong to its content
    content_height: float = 0.006
    #: m, beyond the rim circle a point belongs to something outside the bowl
    outside_margin: float = 0.004
    #: m, neighbouring pixels of one flat top face differ by less than this in height
    flat_tol: float = 0.0015
    flat_min_pixels: int = 20  #: a flat region smaller than this is no object's top
    min_part_side: float = 0.02  #: m, the narrowest footprint a split may leave
    #: a straight cut splits a footprint if two rectangles then cover it with this
    #: fraction less area than one
    cut_gain: float = 0.12
