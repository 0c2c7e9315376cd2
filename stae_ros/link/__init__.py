"""Trace-driven link emulation: mahimahi traces, a closed-form shaper and a real UDP relay.

Pure Python + numpy (no ROS): the controller benchmark and the planner tests use the shaper, the
relay (``python -m stae_ros.link.relay``) shapes real datagrams on loopback.
"""

from .errors import LinkError, ShaperError, TraceError
from .shaper import Delivery, TraceShaper
from .traces import PACKET_BYTES, DeliveryTrace, load_trace, save_trace, synthetic_fading_trace, trace_from_rates

__all__ = [
    "PACKET_BYTES",
    "Delivery",
    "DeliveryTrace",
    "LinkError",
    "ShaperError",
    "TraceError",
    "TraceShaper",
    "load_trace",
    "save_trace",
    "synthetic_fading_trace",
    "trace_from_rates",
]
