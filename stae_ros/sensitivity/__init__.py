"""Gradient-driven spatial sensitivity: the edge tells the camera where its classifier looks.

The edge takes the input gradient of its classifier's top logit on a clip it classified (the
recovered / decoded clip), pools it to a small grid and sends it back (:mod:`.wire`); the camera
uses it instead of (or mixed with) its own map to pick pixels (stae-px) or the region it codes
(stae-roi264), and ignores it once it is stale (:mod:`.guidance`). ROS-free: the nodes only move
the bytes.
"""

from .errors import SensitivityError
from .gradients import saliency_grid, sensitivity_map
from .guidance import GuidanceRules, GuidanceSlot, supports_guidance
from .map import SensitivityMap, scene_signature, signature_distance
from .wire import decode_map, encode_map

__all__ = ["SensitivityError", "saliency_grid", "sensitivity_map", "GuidanceRules", "GuidanceSlot", "supports_guidance",
           "SensitivityMap", "scene_signature", "signature_distance", "decode_map", "encode_map"]
