"""rosbag2 I/O for stae_ros with the pure-Python `rosbags` library (no rclpy, no ROS install).

Writes and reads mcap and sqlite3 bags with our stae_msgs definitions embedded; `stae bag make`
builds clip bags from a data set, `stae bag eval` replays them through camera -> edge.
"""

from .errors import BagError, BagFormatError, BagNotFoundError, ImageEncodingError, MessageDefinitionError, MissingTopicError
from .evaluate import BagEvalReport, ClipResult, cut_windows, evaluate_bag
from .images import image_to_rgb, ns_from_stamp, rgb_to_image, stamp_from_ns
from .reader import GroundTruth, bag_topics, open_bag, read_ground_truth, read_images, read_messages
from .typestore import MSG_NAMES, MSG_PACKAGE, find_msg_dir, make_typestore, msgtype
from .writer import (DEFAULT_DISTRO, GT_TOPIC, IMAGE_TOPIC, STORAGES, BagWriter, ClipBagSummary, ClipItem, bag_qos, ros_distro,
                     storage_plugin, topic_qos, write_clip_bag)

__all__ = [
    "DEFAULT_DISTRO", "GT_TOPIC", "IMAGE_TOPIC", "bag_qos", "ros_distro", "topic_qos", "MSG_NAMES", "MSG_PACKAGE", "STORAGES",
    "BagError", "BagEvalReport", "BagFormatError", "BagNotFoundError", "BagWriter", "ClipBagSummary", "ClipItem",
    "ClipResult", "GroundTruth", "ImageEncodingError", "MessageDefinitionError", "MissingTopicError",
    "bag_topics", "cut_windows", "evaluate_bag", "find_msg_dir", "image_to_rgb", "make_typestore", "msgtype",
    "ns_from_stamp", "open_bag", "read_ground_truth", "read_images", "read_messages", "rgb_to_image",
    "stamp_from_ns", "storage_plugin", "write_clip_bag",
]
