"""The motion library: one function per action class, turning a seeded RNG into joint angles,
body yaw, root travel and the trajectories of the props the actor touches.

Design rule (why the set needs temporal modelling): classes come in families that visit the
same poses and differ only in order, speed or direction --
walk/run left/right share one gait; sit down/stand up, pick up/put down and throw/catch are
time reversals of each other; push/pull box share one pose and differ in travel direction; bend
and pick up differ only by whether the ball moves; kick and kick ball only by the ball; squat,
sit and bend share crouched poses; every standing class holds a neutral stance before its onset.
Timing (onset, duration, rate) is drawn per clip from the same helpers for every class.

Units are body heights; x grows to the right of the image, y up from the ground.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .skeleton import PoseTrack, Proportions, joint_index, joint_positions
from .timing import cycle_phase, keyframes, smooth, window

__all__ = ["Motion", "MOTIONS", "solve_body", "BALL_R"]

#: ball radius (body heights)
BALL_R = 0.06
_PI = np.pi


@dataclass
class Motion:
    """What one clip's actor does. ``ball``/``box``: ``T,2`` world tracks (x, y of the ball
    centre / the box's bottom centre, relative to the actor's start) when the class moves them,
    else None (the scene places them as static clutter)."""

    pose: PoseTrack
    yaw: np.ndarray
    root_x: np.ndarray
    air: np.ndarray
    ball: np.ndarray | None = None
    box: np.ndarray | None = None
    box_size: tuple[float, float] | None = None

    def reversed(self) -> "Motion":
        """Played backwards: every track reversed in time."""
        rev = (lambda a: None if a is None else np.ascontiguousarray(a[::-1]))
        return Motion(self.pose.reversed(), rev(self.yaw), rev(self.root_x), rev(self.air),
                      rev(self.ball), rev(self.box), self.box_size)


def solve_body(m: Motion, prop: Proportions) -> np.ndarray:
    """World joints ``T,J,3``: pelvis at ``root_x``, lowered until the lowest foot point touches
    the ground (y = 0), then lifted by ``air`` (jumps)."""
    rel = joint_positions(m.pose, prop, m.yaw)
    feet = [joint_index(n) for n in ("ankle_l", "toe_l", "ankle_r", "toe_r")]
    lift = -rel[:, feet, 1].min(axis=1) + m.air
    out = rel.copy()
    out[..., 0] += m.root_x[:, None]
    out[..., 1] += lift[:, None]
    return out


# ---------------------------------------------------------------------------------------- helpers

def _neutral(rng: np.random.Generator, u: np.ndarray) -> PoseTrack:
    """Relaxed standing with a little idle sway, so still frames differ from clip to clip."""
    t = len(u)
    p = PoseTrack(t)
    ph = rng.uniform(0, 2 * _PI)
    sway = 0.04 * np.sin(2 * _PI * rng.uniform(0.3, 0.8) * u + ph)
    for k in range(2):
        p.sh_abd[k] = rng.uniform(0.06, 0.22) + sway * (1 if k else -1)
        p.sh_flex[k] = rng.uniform(-0.1, 0.15) + sway
        p.elbow[k] = rng.uniform(0.1, 0.45)
        p.knee[k] = rng.uniform(0.0, 0.12)
        p.hip_flex[k] = rng.uniform(-0.05, 0.08)
        p.hip_abd[k] = rng.uniform(0.0, 0.08)
    p.lean = np.full(t, rng.uniform(-0.04, 0.06))
    return p


def _facing(rng: np.random.Generator, side_view: bool) -> float:
    """Body yaw: side or three-quarter views for actions in the sagittal plane, front-ish views
    for gestures in the frontal plane; facing left or right at random."""
    sign = 1.0 if rng.uniform() < 0.5 else -1.0
    lo, hi = (0.22, 0.5) if side_view else (0.0, 0.22)
    return sign * rng.uniform(lo, hi) * _PI


def _const(t: int, v: float) -> np.ndarray:
    return np.full(t, float(v))


def _static(rng: np.random.Generator, u: np.ndarray, side_view: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = len(u)
    return _const(t, _facing(rng, side_view)), np.zeros(t), np.zeros(t)


def _blend(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return a + (b - a) * w


def _gait(rng: np.random.Generator, u: np.ndarray, cycles: tuple[float, float], amp: tuple[float, float],
          knee: tuple[float, float], arm: tuple[float, float], elbow: tuple[float, float],
          lean: tuple[float, float], backwards: bool = False) -> tuple[PoseTrack, np.ndarray, float]:
    """Alternating leg swing with counter-swinging arms; returns pose, phase and stride length
    (body heights per cycle) so the caller can make the body travel without foot sliding."""
    t = len(u)
    p = _neutral(rng, u)
    phase = cycle_phase(rng, u, cycles)
    if backwards:
        phase = phase[0] - (phase - phase[0])
    a = rng.uniform(*amp)
    ka = rng.uniform(*knee)
    aa = rng.uniform(*arm)
    for k, sgn in ((0, 1.0), (1, -1.0)):
        ph = phase + (0.0 if k == 0 else _PI)
        p.hip_flex[k] = a * np.sin(ph)
        swing = np.cos(ph) if not backwards else -np.cos(ph)
        p.knee[k] = 0.08 + ka * np.maximum(0.0, swing) ** 1.5
        p.sh_flex[k] = -aa * np.sin(ph)
        p.elbow[k] = rng.uniform(*elbow) + 0.15 * aa * np.maximum(0.0, -np.sin(ph))
    p.lean = _const(t, rng.uniform(*lean))
    stride = 4.0 * 0.49 * np.sin(a) * 0.85
    return p, phase, stride


# ---------------------------------------------------------------------------------- locomotion

def _locomotion(rng: np.random.Generator, u: np.ndarray, direction: float, run: bool) -> Motion:
    if run:
        p, phase, stride = _gait(rng, u, (1.7, 2.5), (0.45, 0.65), (1.0, 1.5), (0.5, 0.8), (1.2, 1.7), (0.12, 0.28))
        cycles = (phase[-1] - phase[0]) / (2 * _PI)
        dist = min(1.8, stride * cycles)
        air = 0.035 * np.maximum(0.0, np.sin(2 * phase))
    else:
        p, phase, stride = _gait(rng, u, (0.9, 1.5), (0.28, 0.45), (0.5, 0.8), (0.25, 0.45), (0.15, 0.5), (0.0, 0.08))
        cycles = (phase[-1] - phase[0]) / (2 * _PI)
        dist = min(1.1, stride * cycles)
        air = np.zeros(len(u))
    yaw = _const(len(u), direction * rng.uniform(0.3, 0.5) * _PI)
    return Motion(p, yaw, direction * dist * u, air)


def walk_left(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:  # noqa: D103 (see MOTIONS)
    return _locomotion(rng, u, -1.0, run=False)


def walk_right(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:  # noqa: D103 (see MOTIONS)
    return _locomotion(rng, u, 1.0, run=False)


def run_left(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:  # noqa: D103 (see MOTIONS)
    return _locomotion(rng, u, -1.0, run=True)


def run_right(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:  # noqa: D103 (see MOTIONS)
    return _locomotion(rng, u, 1.0, run=True)


def skip(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Gait with a hop on every step, big arm swings, either direction."""
    d = 1.0 if rng.uniform() < 0.5 else -1.0
    p, phase, stride = _gait(rng, u, (1.1, 1.7), (0.35, 0.55), (0.9, 1.4), (0.5, 0.9), (0.3, 0.9), (0.0, 0.12))
    cycles = (phase[-1] - phase[0]) / (2 * _PI)
    air = rng.uniform(0.05, 0.09) * np.abs(np.sin(phase))
    yaw = _const(len(u), d * rng.uniform(0.3, 0.5) * _PI)
    return Motion(p, yaw, d * min(1.3, 0.8 * stride * cycles) * u, air)


# ------------------------------------------------------------------------------ jumps in place

def jump_in_place(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Crouch, take off with the arms swinging up, land; 1.5-2.5 times."""
    p = _neutral(rng, u)
    s = np.sin(cycle_phase(rng, u, (1.3, 2.3)))
    up, crouch = np.maximum(0.0, s), np.maximum(0.0, -s)
    for k in range(2):
        p.knee[k] = 0.1 + rng.uniform(0.9, 1.3) * crouch
        p.hip_flex[k] = 0.05 + 0.6 * crouch
        p.sh_flex[k] = -0.5 * crouch + rng.uniform(0.9, 1.6) * up
        p.elbow[k] = 0.3 + 0.2 * crouch
    p.lean = 0.05 + 0.35 * crouch
    yaw, rx, _ = _static(rng, u)
    return Motion(p, yaw, rx, rng.uniform(0.08, 0.14) * up ** 0.7)


def hop_one_leg(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Stand on one leg (the other bent up) and hop on it 2-3.5 times, arms out for balance."""
    p = _neutral(rng, u)
    s = np.sin(cycle_phase(rng, u, (2.0, 3.3)))
    k = int(rng.integers(0, 2))
    raise_g = smooth(window(rng, u, (0.0, 0.15), (0.1, 0.2)))
    p.hip_flex[k] = raise_g * rng.uniform(0.2, 0.7)
    p.knee[k] = p.knee[k] + raise_g * rng.uniform(1.3, 1.8)
    o = 1 - k
    p.knee[o] = 0.1 + 0.5 * np.maximum(0.0, -s) * raise_g
    for j in range(2):
        p.sh_abd[j] = p.sh_abd[j] + raise_g * rng.uniform(0.3, 0.9)
    air = rng.uniform(0.04, 0.08) * np.maximum(0.0, s) * raise_g
    yaw, _, _ = _static(rng, u)
    drift = rng.uniform(-0.25, 0.25) * u
    return Motion(p, yaw, drift, air)


def jumping_jack(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Arms from the sides to overhead and legs apart, and back, 1.3-2.2 cycles, seen frontally."""
    p = _neutral(rng, u)
    ph = cycle_phase(rng, u, (1.3, 2.2))
    o = 0.5 - 0.5 * np.cos(ph)
    for k in range(2):
        p.sh_abd[k] = 0.12 + o * rng.uniform(2.3, 2.8)
        p.elbow[k] = 0.15 + 0.2 * o
        p.hip_abd[k] = 0.04 + o * rng.uniform(0.22, 0.35)
        p.knee[k] = 0.05 + 0.25 * (1 - o) * np.abs(np.sin(ph))
    yaw, rx, _ = _static(rng, u, side_view=False)
    return Motion(p, yaw, rx, 0.04 * np.abs(np.sin(ph)))


# --------------------------------------------------------------------------------- arm gestures

def _wave(rng: np.random.Generator, u: np.ndarray, arms: tuple[int, ...]) -> Motion:
    p = _neutral(rng, u)
    r = smooth(window(rng, u, (0.0, 0.3), (0.15, 0.3)))  # the raise happens early
    ph = cycle_phase(rng, u, (2.0, 3.5))
    amp = rng.uniform(0.35, 0.7)
    for k in arms:
        p.sh_abd[k] = _blend(p.sh_abd[k], _const(len(u), rng.uniform(2.0, 2.6)), r)
        p.elbow_abd[k] = r * (rng.uniform(0.1, 0.5) + amp * np.sin(ph))
        p.elbow[k] = p.elbow[k] * (1 - r)
    yaw, rx, air = _static(rng, u, side_view=False)
    return Motion(p, yaw, rx, air)


def wave_one_hand(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:  # noqa: D103 (see MOTIONS)
    return _wave(rng, u, (int(rng.integers(0, 2)),))


def wave_two_hands(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:  # noqa: D103 (see MOTIONS)
    return _wave(rng, u, (0, 1))


def clap(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Both arms forwards, hands opening and meeting 2-3.5 times."""
    p = _neutral(rng, u)
    r = smooth(window(rng, u, (0.0, 0.25), (0.15, 0.3)))
    ph = cycle_phase(rng, u, (2.0, 3.5))
    open_ = rng.uniform(0.5, 0.9)
    flex = rng.uniform(1.1, 1.5)
    for k in range(2):
        p.sh_flex[k] = _blend(p.sh_flex[k], _const(len(u), flex), r)
        p.sh_horz[k] = r * (-0.3 + open_ * (0.5 - 0.5 * np.cos(ph)))
        p.elbow[k] = _blend(p.elbow[k], _const(len(u), 0.25), r)
    yaw, rx, air = _static(rng, u, side_view=False)
    return Motion(p, yaw, rx, air)


def punch(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Guard with the fists at the chin, then 2-4 quick straight punches, alternating arms."""
    p = _neutral(rng, u)
    t = len(u)
    guard = smooth(window(rng, u, (0.0, 0.2), (0.1, 0.25)))
    n = int(rng.integers(2, 5))
    start, end = rng.uniform(0.15, 0.3), rng.uniform(0.85, 1.0)
    first = int(rng.integers(0, 2))
    pulses = np.zeros((2, t))
    for i in range(n):
        c = start + (end - start) * (i + 0.5) / n
        width = (end - start) / n * 0.5
        pulses[(first + i) % 2] += np.clip(1.0 - np.abs(u - c) / width, 0.0, 1.0)
    for k in range(2):
        pk = np.clip(pulses[k], 0.0, 1.0)
        p.sh_flex[k] = _blend(p.sh_flex[k], 0.5 + 1.0 * pk, guard)
        p.elbow[k] = _blend(p.elbow[k], 2.1 * (1 - pk) + 0.05 * pk, guard)
        p.sh_horz[k] = guard * (-0.15 - 0.15 * pk)
        p.knee[k] = p.knee[k] + 0.2 * guard
    p.lean = p.lean + 0.12 * guard
    yaw, rx, air = _static(rng, u)
    return Motion(p, yaw, rx, air)


# ---------------------------------------------------------------------------------------- kicks

def _kick_pose(rng: np.random.Generator, u: np.ndarray) -> tuple[Motion, int, float]:
    """One kick: wind up behind, swing through, return; returns the kicking leg and the
    progress at which the foot is fastest (contact)."""
    p = _neutral(rng, u)
    g = window(rng, u, (0.05, 0.35), (0.45, 0.65))
    k = int(rng.integers(0, 2))
    top = rng.uniform(1.0, 1.5)
    p.hip_flex[k] = keyframes(g, [0, 0.3, 0.55, 0.75, 1.0], [0.0, -0.45, top, top * 0.8, 0.0])
    p.knee[k] = keyframes(g, [0, 0.3, 0.55, 0.75, 1.0], [0.05, 1.4, 0.05, 0.3, 0.05])
    o = 1 - k
    p.sh_flex[o] = keyframes(g, [0, 0.3, 0.55, 1.0], [0.0, 0.5, -0.6, 0.0])
    p.sh_flex[k] = keyframes(g, [0, 0.3, 0.55, 1.0], [0.0, -0.4, 0.5, 0.0])
    p.sh_abd[k] = p.sh_abd[k] + 0.4 * np.sin(_PI * g)
    p.sh_abd[o] = p.sh_abd[o] + 0.4 * np.sin(_PI * g)
    p.lean = p.lean + keyframes(g, [0, 0.3, 0.55, 1.0], [0.0, 0.1, -0.2, 0.0])
    p.knee[o] = p.knee[o] + 0.15 * np.sin(_PI * g)
    yaw, rx, air = _static(rng, u)
    return Motion(p, yaw, rx, air), k, 0.45


def kick(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """A kick at the air (the ball, if near, stays put)."""
    return _kick_pose(rng, u)[0]


def kick_ball(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """The same kick; the ball in front of the foot flies off at contact."""
    m, k, _ = _kick_pose(rng, u)
    body = solve_body(m, prop)
    toe = body[:, joint_index("toe_l" if k == 0 else "toe_r")]
    face = np.sign(np.sin(m.yaw[0])) or 1.0
    # contact: the frame where the toe moves forwards fastest
    vx = np.diff(toe[:, 0]) * face
    c = int(np.argmax(vx)) + 1
    start_x = toe[c, 0] + face * BALL_R
    ball = np.zeros((len(u), 2))
    ball[:, 0] = start_x
    ball[:, 1] = BALL_R
    dt = np.clip(u - u[c - 1], 0.0, None)
    speed = rng.uniform(1.8, 3.2)
    lift = rng.uniform(0.0, 1.6)
    ball[:, 0] = start_x + face * speed * dt
    ball[:, 1] = BALL_R + np.maximum(0.0, lift * dt - 3.0 * dt ** 2)
    ball[: c, 0] = start_x
    ball[: c, 1] = BALL_R
    m.ball = ball
    return m


# ------------------------------------------------------------------------- bends and crouches

def _bend_pose(rng: np.random.Generator, u: np.ndarray) -> tuple[Motion, np.ndarray]:
    """Bend at the hips and knees until the hands reach the ground, then straighten up."""
    p = _neutral(rng, u)
    g = window(rng, u, (0.0, 0.25), (0.6, 0.95))
    hold = rng.uniform(0.0, 0.2)
    down = (0.45 - hold / 2, 0.55 + hold / 2)
    depth = keyframes(g, [0.0, down[0], down[1], 1.0], [0.0, 1.0, 1.0, 0.0])
    lean = rng.uniform(1.0, 1.35)
    p.lean = p.lean + lean * depth
    for k in range(2):
        p.knee[k] = p.knee[k] + rng.uniform(0.5, 0.8) * depth
        p.hip_flex[k] = p.hip_flex[k] + 0.15 * depth
        p.sh_flex[k] = _blend(p.sh_flex[k], _const(len(u), lean * 0.95), depth)
        p.elbow[k] = p.elbow[k] * (1 - depth)
    yaw, rx, air = _static(rng, u)
    return Motion(p, yaw, rx, air), depth


def bend(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Bend down and straighten up, touching nothing."""
    return _bend_pose(rng, u)[0]


def pick_up(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Bend down, take the ball from the ground, straighten up holding it."""
    m, depth = _bend_pose(rng, u)
    body = solve_body(m, prop)
    k = int(rng.integers(0, 2))
    hand = body[:, joint_index("hand_l" if k == 0 else "hand_r"), :2]
    grab = int(np.argmax(depth))
    ball = hand.copy()
    ball[:, 1] -= BALL_R * 0.6
    ground = np.array([hand[grab, 0], BALL_R])
    ball[: grab + 1] = ground
    m.ball = ball
    return m


def put_down(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Pick up played backwards: bend down holding the ball, leave it, straighten up."""
    return pick_up(rng, u, prop).reversed()


def squat(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Knee bends down and up, 1-2 times, arms forwards for balance."""
    p = _neutral(rng, u)
    ph = cycle_phase(rng, u, (0.8, 2.0))
    c = (0.5 - 0.5 * np.cos(ph)) * rng.uniform(0.7, 1.0)
    for k in range(2):
        p.hip_flex[k] = 1.5 * c
        p.knee[k] = 2.1 * c + 0.05
        p.sh_flex[k] = _blend(p.sh_flex[k], _const(len(u), rng.uniform(1.1, 1.5)), c / max(c.max(), 1e-6))
    p.lean = p.lean + 0.6 * c
    yaw, rx, air = _static(rng, u)
    return Motion(p, yaw, rx, air)


def sit_down(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Lower onto the box behind, leaning forwards on the way, and stay seated."""
    p = _neutral(rng, u)
    g = smooth(window(rng, u, (0.0, 0.35), (0.45, 0.75)))
    lean_peak = np.sin(_PI * g)
    for k in range(2):
        p.hip_flex[k] = _blend(p.hip_flex[k], _const(len(u), rng.uniform(1.4, 1.6)), g)
        p.knee[k] = _blend(p.knee[k], _const(len(u), rng.uniform(1.45, 1.65)), g)
        p.sh_flex[k] = p.sh_flex[k] + 0.7 * lean_peak + 0.3 * g
        p.elbow[k] = p.elbow[k] + 0.6 * g
    p.lean = p.lean + 0.55 * lean_peak + 0.1 * g
    yaw, rx, air = _static(rng, u)
    m = Motion(p, yaw, rx, air)
    body = solve_body(m, prop)
    face = np.sign(np.sin(yaw[0])) or 1.0
    seat_y = body[-1, joint_index("pelvis"), 1] - 0.04
    w = rng.uniform(0.26, 0.4)
    x = body[-1, joint_index("pelvis"), 0] - face * (w / 2 - 0.06)
    m.box = np.tile([x, 0.0], (len(u), 1))
    m.box_size = (w, seat_y)
    return m


def stand_up(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Sit down played backwards."""
    return sit_down(rng, u, prop).reversed()


# ------------------------------------------------------------------------------- throw / catch

def throw_ball(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Hold the ball, wind the arm back, throw it forwards and up; the ball flies off."""
    p = _neutral(rng, u)
    g = window(rng, u, (0.05, 0.3), (0.45, 0.7))
    k = int(rng.integers(0, 2))
    times = [0.0, 0.35, 0.6, 0.8, 1.0]
    p.sh_flex[k] = keyframes(g, times, [0.5, -0.9, 2.2, 1.5, 0.3])
    p.elbow[k] = keyframes(g, times, [1.5, 1.9, 0.25, 0.2, 0.3])
    p.sh_abd[k] = p.sh_abd[k] + keyframes(g, times, [0.1, 0.4, 0.1, 0.1, 0.0])
    o = 1 - k
    p.sh_flex[o] = p.sh_flex[o] + keyframes(g, times, [0.2, 0.8, -0.3, -0.2, 0.0])
    p.lean = p.lean + keyframes(g, times, [0.0, -0.15, 0.3, 0.25, 0.05])
    p.hip_flex[o] = p.hip_flex[o] + keyframes(g, times, [0.0, 0.25, 0.1, 0.0, 0.0])
    yaw, rx, air = _static(rng, u)
    m = Motion(p, yaw, rx, air)
    body = solve_body(m, prop)
    hand = body[:, joint_index("hand_l" if k == 0 else "hand_r"), :2]
    face = np.sign(np.sin(yaw[0])) or 1.0
    release = int(np.searchsorted(g, 0.55))
    release = min(max(release, 1), len(u) - 1)
    ball = hand.copy()
    dt = np.clip(u - u[release], 0.0, None)
    vx, vy, grav = rng.uniform(2.0, 3.5), rng.uniform(0.6, 1.6), 4.0
    after = u > u[release]
    ball[after, 0] = hand[release, 0] + face * vx * dt[after]
    ball[after, 1] = np.maximum(BALL_R, hand[release, 1] + vy * dt[after] - 0.5 * grav * dt[after] ** 2)
    m.ball = ball
    return m


def catch_ball(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Throw played backwards: the ball flies in, the hand meets it and draws it back."""
    return throw_ball(rng, u, prop).reversed()


# -------------------------------------------------------------------------------- push / pull

def _box_pose(rng: np.random.Generator, u: np.ndarray, prop: Proportions, pull: bool) -> Motion:
    """Arms forwards on a box in front, leaning in, small steps; the box travels with the hands."""
    p, phase, stride = _gait(rng, u, (0.8, 1.4), (0.18, 0.3), (0.4, 0.7), (0.0, 0.0), (0.2, 0.4), (0.3, 0.5),
                             backwards=pull)
    lower = rng.uniform(0.9, 1.2)
    for k in range(2):
        p.sh_flex[k] = _const(len(u), lower) + 0.05 * np.sin(phase + k * _PI)
        p.elbow[k] = _const(len(u), rng.uniform(0.1, 0.4))
        p.sh_abd[k] = _const(len(u), 0.1)
    face = 1.0 if rng.uniform() < 0.5 else -1.0
    yaw = _const(len(u), face * rng.uniform(0.3, 0.5) * _PI)
    g = window(rng, u, (0.0, 0.2), (0.7, 1.0))
    dist = rng.uniform(0.35, 0.7)
    travel = (-face if pull else face) * dist * g
    m = Motion(p, yaw, travel, np.zeros(len(u)))
    body = solve_body(m, prop)
    hands = body[:, [joint_index("hand_l"), joint_index("hand_r")], :2]
    reach = hands[:, :, 0].max(axis=1) if face > 0 else hands[:, :, 0].min(axis=1)
    w = rng.uniform(0.3, 0.45)
    h = float(hands[:, :, 1].mean()) + rng.uniform(0.0, 0.06)
    m.box = np.stack([reach + face * w / 2, np.zeros(len(u))], axis=1)
    m.box_size = (w, h)
    return m


def push_box(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:  # noqa: D103 (see MOTIONS)
    return _box_pose(rng, u, prop, pull=False)


def pull_box(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:  # noqa: D103 (see MOTIONS)
    return _box_pose(rng, u, prop, pull=True)


# ------------------------------------------------------------------------------------- turning

def turn_around(rng: np.random.Generator, u: np.ndarray, prop: Proportions) -> Motion:
    """Stand, then turn to face the other way (through the front view), with a few small steps."""
    p = _neutral(rng, u)
    g = smooth(window(rng, u, (0.0, 0.35), (0.4, 0.7)))
    y0 = _facing(rng, True)
    y1 = -np.sign(y0) * rng.uniform(0.22, 0.5) * _PI
    yaw = y0 + (y1 - y0) * g
    step = np.sin(_PI * g) * np.sin(2 * _PI * 2 * g)
    p.hip_flex[0] = p.hip_flex[0] + 0.25 * np.maximum(0.0, step)
    p.hip_flex[1] = p.hip_flex[1] + 0.25 * np.maximum(0.0, -step)
    p.knee[0] = p.knee[0] + 0.5 * np.maximum(0.0, step)
    p.knee[1] = p.knee[1] + 0.5 * np.maximum(0.0, -step)
    return Motion(p, yaw, np.zeros(len(u)), np.zeros(len(u)))


#: class name -> (motion function, one-line description); the order fixes the labels
MOTIONS: dict[str, tuple[Callable[[np.random.Generator, np.ndarray, Proportions], Motion], str]] = {
    "walk_left": (walk_left, "walking gait, travels left 0.5-1.1 body heights"),
    "walk_right": (walk_right, "walking gait, travels right"),
    "run_left": (run_left, "running gait (faster cadence, bent arms, lean), travels left up to 1.8 body heights"),
    "run_right": (run_right, "running gait, travels right"),
    "skip": (skip, "gait with a hop on every step, either direction"),
    "jump_in_place": (jump_in_place, "crouch and jump up, arms swinging up, 1.3-2.3 times"),
    "hop_one_leg": (hop_one_leg, "one leg bent up, hops on the other 2-3.3 times"),
    "jumping_jack": (jumping_jack, "arms to overhead and legs apart, and back, 1.3-2.2 cycles (front views)"),
    "wave_one_hand": (wave_one_hand, "one arm raised, forearm waving sideways 2-3.5 times"),
    "wave_two_hands": (wave_two_hands, "both arms raised and waving"),
    "clap": (clap, "both arms forwards, hands meeting 2-3.5 times"),
    "punch": (punch, "guard, then 2-4 straight punches with alternating arms"),
    "kick": (kick, "one leg winds back and swings forwards (no ball contact)"),
    "kick_ball": (kick_ball, "the same kick; the ball at the foot flies off"),
    "bend": (bend, "bend down until the hands are near the ground, straighten up"),
    "pick_up": (pick_up, "bend down, take the ball from the ground, straighten up with it"),
    "put_down": (put_down, "pick_up backwards: bend down with the ball, leave it, straighten up"),
    "squat": (squat, "knee bends down and up, 0.8-2 times, arms forwards"),
    "sit_down": (sit_down, "lower onto the box behind and stay seated"),
    "stand_up": (stand_up, "sit_down backwards: rise from the box"),
    "throw_ball": (throw_ball, "wind the arm back, throw the ball forwards; it flies off"),
    "catch_ball": (catch_ball, "throw_ball backwards: the ball flies in, the hand takes it"),
    "push_box": (push_box, "hands on a box in front, steps forwards, the box slides away"),
    "pull_box": (pull_box, "the same pose, steps backwards, the box follows"),
    "turn_around": (turn_around, "stand, then turn to face the other way through the front view"),
}
