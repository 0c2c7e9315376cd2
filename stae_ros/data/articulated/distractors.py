"""Distractor movers: things that move in the scene but are not the actor.

Why: without them, "whatever moves relative to the background" would be the actor, and a cheap
motion detector would localise it for free. Here balls roll and fly, boxes and bars slide and
turn, and with probability 1/2 a smaller passer-by walks through the scene. All of it is drawn
from one distribution for every class (it carries no label) and lives in world coordinates, so
it moves with the camera like the background does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .camera import CameraPath
from .motions import _locomotion, solve_body
from .render import FigureStyle, draw_ball, draw_figure
from .skeleton import Proportions

__all__ = ["Distractors"]


@dataclass
class _Shape:
    kind: int  # 0 ball, 1 box, 2 bar
    p0: np.ndarray  # world px
    vel: np.ndarray  # world px per clip
    gravity: float  # world px per clip^2 (flying balls)
    theta: float
    omega: float  # radians per clip
    size: float
    aspect: float
    colour: tuple[int, int, int]


@dataclass
class Distractors:
    shapes: list[_Shape]
    walker: tuple[np.ndarray, np.ndarray, float, Proportions, FigureStyle] | None  # joints T,J,3; anchor; px/height

    @staticmethod
    def sample(rng: np.random.Generator, cam: CameraPath, u: np.ndarray, actor_px: float) -> "Distractors":
        """2-5 shapes and maybe one passer-by, placed around the camera's mean view."""
        h, w = cam.out_size
        view = np.array([w, h]) / float(cam.zoom.mean())
        centre = cam.centre.mean(axis=0)
        shapes = []
        for _ in range(int(rng.integers(2, 6))):
            kind = int(rng.integers(0, 3))
            p0 = centre + (rng.uniform(-0.5, 0.5, 2)) * view
            speed = rng.uniform(0.1, 0.8) * view.min()
            ang = rng.uniform(0, 2 * math.pi)
            vel = speed * np.array([math.cos(ang), math.sin(ang)])
            gravity = rng.uniform(1.0, 2.5) * view.min() if kind == 0 and rng.uniform() < 0.4 else 0.0
            if gravity:
                vel[1] = -abs(vel[1]) - 0.3 * gravity
            shapes.append(_Shape(kind, p0, vel, gravity, rng.uniform(0, math.pi), rng.uniform(-3, 3),
                                 rng.uniform(0.03, 0.1) * actor_px * 2.0, rng.uniform(0.25, 1.0),
                                 tuple(int(v) for v in rng.uniform(20, 235, 3))))
        walker = None
        if rng.uniform() < 0.5:
            prop = Proportions.sample(rng)
            direction = 1.0 if rng.uniform() < 0.5 else -1.0
            motion = _locomotion(rng, u, direction, run=rng.uniform() < 0.3)
            joints = solve_body(motion, prop)
            px = actor_px * rng.uniform(0.35, 0.6)
            travel = joints[-1, 0, 0] - joints[0, 0, 0]
            anchor = centre + np.array([rng.uniform(-0.4, 0.4) * view[0] - travel * px / 2.0, rng.uniform(-0.2, 0.5) * view[1]])
            walker = (joints, anchor, px, prop, FigureStyle.sample(rng, muted=True))
        return Distractors(shapes, walker)

    def draw(self, img: np.ndarray, cam: CameraPath, t: int, u: float) -> None:
        """Draw every distractor of frame ``t`` (clip time ``u`` in [0, 1]) into ``img``."""
        import cv2

        z = float(cam.zoom[t])
        if self.walker is not None:
            joints, anchor, px, prop, style = self.walker
            world = anchor + joints[t, :, :2] * np.array([px, -px])
            draw_figure(img, cam.apply(t, world), joints[t, :, 2], px * z, prop, style)
        for s in self.shapes:
            p = s.p0 + s.vel * u + np.array([0.0, 0.5 * s.gravity * u * u])
            c = cam.apply(t, p)
            size = s.size * z
            if s.kind == 0:
                draw_ball(img, c, size * 0.5, s.colour)
                continue
            th = s.theta + s.omega * u
            length, width = size * 1.6, size * 1.6 * (s.aspect if s.kind == 1 else s.aspect * 0.3)
            rect = ((float(c[0]), float(c[1])), (float(length), float(max(1.0, width))), math.degrees(th))
            pts = cv2.boxPoints(rect)
            cv2.fillConvexPoly(img, np.round(pts * 16).astype(np.int32), s.colour, cv2.LINE_AA, 4)
