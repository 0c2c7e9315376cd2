"""The methods STAE is compared against, and STAE's own selections, behind one interface.

``ClipCodec.encode(clip uint8 T,H,W,3) -> bytes`` on the camera, ``decode(bytes) -> clip`` on the
edge. Classic codecs (raw, JPEG, H.264, H.265) need only numpy, OpenCV and PyAV; the semantic
ones (``SelectionCodec``) import torch and the model lazily.
"""

from .base import ClipCodec, check_clip
from .errors import BaselineDecodeError, BaselineError, ClipFormatError, UnknownCodecError
from .jpeg import JpegCodec
from .raw import RawCodec
from .registry import CLASSIC_FAMILIES, classic_sweep, make_codec, semantic_sweep
from .video import H264Codec, H265Codec, VideoCodec, split_annexb, strip_sei

__all__ = [
    "ClipCodec",
    "check_clip",
    "BaselineError",
    "BaselineDecodeError",
    "ClipFormatError",
    "UnknownCodecError",
    "RawCodec",
    "JpegCodec",
    "VideoCodec",
    "H264Codec",
    "H265Codec",
    "split_annexb",
    "strip_sei",
    "make_codec",
    "classic_sweep",
    "semantic_sweep",
    "CLASSIC_FAMILIES",
    "SelectionCodec",
    "SEMANTIC_MODES",
]


def __getattr__(name: str):  # lazy: keep torch out of `import stae_ros.baselines`
    if name in ("SelectionCodec", "SEMANTIC_MODES"):
        from . import semantic

        return getattr(semantic, name)
    raise AttributeError(name)
