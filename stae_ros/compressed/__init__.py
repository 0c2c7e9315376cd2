"""Compressed-domain recognition: classify an H.264 GOP from its I-frame, motion vectors and residuals.

- :mod:`.extract`: one bounded pass of libavcodec over a GOP with ``flags2=+export_mvs`` -> the
  I-frame (small RGB), a dense motion-vector field and a residual-energy map per P-frame;
- :mod:`.model`: the light three-stream classifier (I-frame CNN, a spiking temporal modulator of
  leaky integrate-and-fire conv layers over the P-frames, late fusion);
- :mod:`.io`: its model file (``stae-h264cd-model/1``).

The ``h264-cd`` payload mode (:mod:`stae_ros.modes.h264_cd`) puts them behind the payload interface.
"""

from .extract import CompressedGop, CompressedStreamError, FeatureSpec, extract_gop, mv_field

__all__ = ["CompressedGop", "CompressedStreamError", "FeatureSpec", "extract_gop", "mv_field"]
