"""Forward kinematics of a stick-figure body: joint angles over time -> 2-D joint positions.

Why a (small) 3-D model: human actions differ in which plane a limb moves in (a jumping jack
swings the arms sideways, a throw swings one forwards, a clap closes them horizontally), and the
same action must look different from different viewing angles (yaw). Joint angles are defined in
the body's own frame, the body is turned by ``yaw`` and projected orthographically, so one motion
description renders from the side, the front or three-quarter views.

Units: one body height = 1.0. World axes: x to the right of the image, y up, z towards the viewer.
Body frame (yaw 0): the figure faces the viewer (+z), its side ``+1`` is at +x.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Proportions", "PoseTrack", "JOINTS", "BONES", "joint_positions", "limb_direction"]

#: joints returned by :func:`joint_positions` (index = position in the last-but-one axis)
JOINTS: tuple[str, ...] = (
    "pelvis", "neck", "head",
    "shoulder_l", "elbow_l", "hand_l", "shoulder_r", "elbow_r", "hand_r",
    "hip_l", "knee_l", "ankle_l", "toe_l", "hip_r", "knee_r", "ankle_r", "toe_r",
)
_J = {n: i for i, n in enumerate(JOINTS)}

#: drawable bones (parent, child, part) -- part chooses colour and thickness in the renderer
BONES: tuple[tuple[str, str, str], ...] = (
    ("hip_l", "knee_l", "thigh"), ("knee_l", "ankle_l", "shin"), ("ankle_l", "toe_l", "foot"),
    ("hip_r", "knee_r", "thigh"), ("knee_r", "ankle_r", "shin"), ("ankle_r", "toe_r", "foot"),
    ("shoulder_l", "elbow_l", "upper_arm"), ("elbow_l", "hand_l", "forearm"),
    ("shoulder_r", "elbow_r", "upper_arm"), ("elbow_r", "hand_r", "forearm"),
)


@dataclass(frozen=True)
class Proportions:
    """Segment lengths as fractions of body height (adult-like defaults, varied per actor)."""

    thigh: float = 0.245
    shin: float = 0.245
    torso: float = 0.30
    neck: float = 0.06
    head_r: float = 0.062
    shoulder_w: float = 0.095
    hip_w: float = 0.055
    upper_arm: float = 0.165
    forearm: float = 0.16
    foot: float = 0.07

    @staticmethod
    def sample(rng: np.random.Generator) -> "Proportions":
        """Per-actor variation: limb/torso ratio, broad or narrow build, head size."""
        leg = rng.uniform(0.95, 1.05)
        arm = rng.uniform(0.93, 1.07)
        width = rng.uniform(0.85, 1.2)
        return Proportions(
            thigh=0.245 * leg, shin=0.245 * leg, torso=0.30 * rng.uniform(0.95, 1.05),
            neck=0.06, head_r=0.062 * rng.uniform(0.9, 1.1), shoulder_w=0.095 * width,
            hip_w=0.055 * width, upper_arm=0.165 * arm, forearm=0.16 * arm, foot=0.07,
        )


def _zeros(t: int) -> np.ndarray:
    return np.zeros(t, np.float64)


@dataclass
class PoseTrack:
    """Joint angles (radians) per frame, each an array of length T.

    Arms: ``sh_flex`` swings the upper arm forwards (+) / backwards (-) from hanging, ``sh_abd``
    raises it sideways, ``sh_horz`` turns a raised arm outwards (+) / across the chest (-);
    ``elbow`` bends the forearm forwards, ``elbow_abd`` sideways. Legs: ``hip_flex`` forwards,
    ``hip_abd`` sideways, ``knee`` bends the shin backwards. ``lean`` bends the torso forwards.
    Index 0 of each pair is the left side (+x at yaw 0), 1 the right.
    """

    t: int
    lean: np.ndarray = field(default=None)  # type: ignore[assignment]
    sh_flex: np.ndarray = field(default=None)  # type: ignore[assignment]  # (2, T)
    sh_abd: np.ndarray = field(default=None)  # type: ignore[assignment]
    sh_horz: np.ndarray = field(default=None)  # type: ignore[assignment]
    elbow: np.ndarray = field(default=None)  # type: ignore[assignment]
    elbow_abd: np.ndarray = field(default=None)  # type: ignore[assignment]
    hip_flex: np.ndarray = field(default=None)  # type: ignore[assignment]
    hip_abd: np.ndarray = field(default=None)  # type: ignore[assignment]
    knee: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        t = self.t
        if self.lean is None:
            self.lean = _zeros(t)
        for name in ("sh_flex", "sh_abd", "sh_horz", "elbow", "elbow_abd", "hip_flex", "hip_abd", "knee"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros((2, t), np.float64))

    def reversed(self) -> "PoseTrack":
        """The same motion played backwards (sit down <-> stand up, throw <-> catch)."""
        out = PoseTrack(self.t)
        for name in ("lean", "sh_flex", "sh_abd", "sh_horz", "elbow", "elbow_abd", "hip_flex", "hip_abd", "knee"):
            setattr(out, name, np.ascontiguousarray(getattr(self, name)[..., ::-1]))
        return out


def limb_direction(flex: np.ndarray, abd: np.ndarray, horz: np.ndarray, side: float) -> np.ndarray:
    """Unit vectors ``T,3`` of a limb hanging straight down, swung forward by ``flex``, raised
    sideways (outwards on ``side`` +-1) by ``abd`` and turned about the vertical by ``horz``."""
    # forward swing in the sagittal plane: (0,-1,0) -> (0, -cos f, sin f)
    x = np.zeros_like(flex)
    y = -np.cos(flex)
    z = np.sin(flex)
    # sideways raise about the z axis, outwards: (0,-1,0) -> (side*sin a, -cos a, 0)
    a = side * abd
    ca, sa = np.cos(a), np.sin(a)
    x, y = x * ca - y * sa, x * sa + y * ca
    # horizontal turn about y
    h = side * horz
    ch, sh = np.cos(h), np.sin(h)
    x, z = x * ch + z * sh, -x * sh + z * ch
    return np.stack([x, y, z], axis=-1)


def _rot_x(v: np.ndarray, ang: np.ndarray) -> np.ndarray:
    """Rotate ``T,3`` vectors about x by ``ang`` (T): +y turns towards +z (bending forwards)."""
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    out = v.copy()
    out[:, 1] = v[:, 1] * c[:, 0] - v[:, 2] * s[:, 0]
    out[:, 2] = v[:, 1] * s[:, 0] + v[:, 2] * c[:, 0]
    return out


def joint_positions(pose: PoseTrack, prop: Proportions, yaw: np.ndarray) -> np.ndarray:
    """World joint positions ``T,J,3`` relative to the pelvis, turned by ``yaw`` (T, radians;
    +pi/2 faces +x) -- the caller adds the root position. y is up; the last axis is (x, y, z)."""
    t = pose.t
    out = np.zeros((t, len(JOINTS), 3), np.float64)
    up = np.tile([0.0, 1.0, 0.0], (t, 1))
    spine = _rot_x(up, pose.lean)
    neck = spine * prop.torso
    out[:, _J["neck"]] = neck
    out[:, _J["head"]] = neck + spine * (prop.neck + prop.head_r)
    for k, side in ((0, 1.0), (1, -1.0)):
        tag = "l" if k == 0 else "r"
        sh = neck + _rot_x(np.tile([side * prop.shoulder_w, 0.0, 0.0], (t, 1)), pose.lean)
        d1 = _rot_x(limb_direction(pose.sh_flex[k], pose.sh_abd[k], pose.sh_horz[k], side), pose.lean)
        d2 = _rot_x(
            limb_direction(pose.sh_flex[k] + pose.elbow[k], pose.sh_abd[k] + pose.elbow_abd[k], pose.sh_horz[k], side),
            pose.lean,
        )
        out[:, _J[f"shoulder_{tag}"]] = sh
        out[:, _J[f"elbow_{tag}"]] = sh + d1 * prop.upper_arm
        out[:, _J[f"hand_{tag}"]] = sh + d1 * prop.upper_arm + d2 * prop.forearm
        hip = np.tile([side * prop.hip_w, 0.0, 0.0], (t, 1))
        zero = np.zeros(t)
        th = limb_direction(pose.hip_flex[k], pose.hip_abd[k], zero, side)
        sn = limb_direction(pose.hip_flex[k] - pose.knee[k], pose.hip_abd[k], zero, side)
        ft = limb_direction(pose.hip_flex[k] - pose.knee[k] + np.pi / 2, pose.hip_abd[k], zero, side)
        knee = hip + th * prop.thigh
        ankle = knee + sn * prop.shin
        out[:, _J[f"hip_{tag}"]] = hip
        out[:, _J[f"knee_{tag}"]] = knee
        out[:, _J[f"ankle_{tag}"]] = ankle
        out[:, _J[f"toe_{tag}"]] = ankle + ft * prop.foot
    # turn the whole body about the vertical axis: yaw 0 faces +z (the viewer), +pi/2 faces +x
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x, z = out[..., 0].copy(), out[..., 2].copy()
    out[..., 0] = x * c + z * s
    out[..., 2] = -x * s + z * c
    return out


def joint_index(name: str) -> int:
    """Index of joint ``name`` in :data:`JOINTS`."""
    return _J[name]
