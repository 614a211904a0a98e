"""Perception: RGB-D frames to per-object point clouds, primitive shapes and a world model.

``perceive(frame, PerceptionConfig(segmentation="instance" | "geometric"))`` segments a
frame (simulator masks, or a table-plane fit and clustering that needs none), fits a box,
cylinder or bowl to each object and returns a :class:`Percept`; ``world_model`` turns it
into the planner's :class:`tamp.world.WorldModel`. open3d is imported only when used.
"""

from tamp.perception.cloud import ObjectCloud, backproject
from tamp.perception.fit import FitConfig, ShapeFit, fit_object
from tamp.perception.scene import (PerceivedObject, Percept, PerceptionConfig, fit_scene,
                                   perceive, refit, world_model)
from tamp.perception.segment import Segmentation, SegmentationConfig, segment
from tamp.perception.table import TablePlane

__all__ = ["FitConfig", "ObjectCloud", "PerceivedObject", "Percept", "PerceptionConfig",
           "Segmentation", "SegmentationConfig", "ShapeFit", "TablePlane", "backproject",
           "fit_object", "fit_scene", "perceive", "refit", "segment", "world_model"]
