"""stae_ros: spatiotemporal attention-based semantic video compression for ROS 2.

The core sub-packages (models, codec, data, training, profiling, planning, link, bench,
baselines, latent, pipeline) never import rclpy or ROS messages; only ``stae_ros.ros`` does.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
