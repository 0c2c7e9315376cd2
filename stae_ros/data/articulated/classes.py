"""Class names, labels and descriptions of the hard set (the order fixes the labels)."""

from __future__ import annotations

from .motions import MOTIONS

__all__ = ["CLASS_NAMES", "CLASS_DESCRIPTIONS", "FAMILIES"]

#: class names, index = label
CLASS_NAMES: tuple[str, ...] = tuple(MOTIONS)

#: what decides each class
CLASS_DESCRIPTIONS: dict[str, str] = {name: desc for name, (_, desc) in MOTIONS.items()}

#: classes that share poses and differ only over time (order, speed or direction)
FAMILIES: dict[str, tuple[str, ...]] = {
    "gait": ("walk_left", "walk_right", "run_left", "run_right", "skip", "push_box", "pull_box"),
    "time-reversed pairs": ("sit_down", "stand_up", "pick_up", "put_down", "throw_ball", "catch_ball"),
    "crouch": ("bend", "pick_up", "put_down", "squat", "sit_down", "stand_up"),
    "kick": ("kick", "kick_ball"),
    "bounce": ("jump_in_place", "hop_one_leg", "jumping_jack", "skip"),
    "arms": ("wave_one_hand", "wave_two_hands", "clap", "punch", "throw_ball", "catch_ball"),
}
