"""How a blend is asked for: two tracks and α (:class:`BlendSettings`) or four corners and a
puck (:class:`PadSettings`); frozen values that travel from the controls to the engine.

Either may follow a *curve*, a performance: its controls (α, or the puck's x and y) at
points in time, linear between them. Such a blend lasts until the curve's last point,
from ``curve_start_s`` into the excerpt, which repeats under a longer curve (see
``Blend.of``). Live playback records one (``engine.live``).
"""

import itertools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from musinterp_app.base import limits
from musinterp_app.model import latent

SLOTS = ("A", "B", "C", "D")  # all four: the pad
PAIR_SLOTS = SLOTS[:2]  # A and B: the two-track blend
CORNER_SLOTS = SLOTS[2:]  # C and D: the pad's two more

Curve = tuple[tuple[float, ...], ...]  # (seconds, control, …) points, times rising


@dataclass(frozen=True)
class BlendSettings:
    """How to blend. ``alpha``: 0 = all A, 1 = all B."""

    alpha: float = 0.5
    mode: latent.Mode = latent.DEFAULT_MODE
    morph: bool = False  # α ramps from 0 to 1 across the excerpt
    keep_detail: bool = True  # add back each track's residual, weighted by its share
    steady_level: bool = True  # each frame's level follows the α-interpolated sources' level
    steps: tuple[float, ...] = ()  # α at evenly spaced slider positions (Engine.even_steps)
    curve: Curve = ()  # a performance: (seconds, α) points (see the module docstring)
    curve_start_s: float = 0.0  # where in the excerpt a performance begins

    slots: ClassVar[tuple[str, ...]] = PAIR_SLOTS
    control_names: ClassVar[tuple[str, ...]] = ("α",)

    def __post_init__(self) -> None:
        limits.ALPHA.check(self.alpha, "α")
        _check_mode(self.mode)
        if self.steps and (self.steps[0] != 0 or self.steps[-1] != 1 or len(self.steps) < 2):
            raise limits.OptionError("even steps must run from α = 0 to α = 1")
        _check_curve(self, (limits.ALPHA,))
        if self.curve and self.morph:
            raise limits.OptionError("a blend follows either a curve or a morph, not both")

    @property
    def controls(self) -> tuple[float, ...]:
        """Where the controls are: ``(α,)``."""
        return (self.alpha,)

    def model_alpha(self, alpha: np.ndarray) -> np.ndarray:
        """The slider's α (any shape) as the model's: through ``steps`` when they are set."""
        if not self.steps:
            return np.asarray(alpha, np.float32)
        knots = np.linspace(0, 1, len(self.steps))
        return np.interp(alpha, knots, self.steps).astype(np.float32)

    def shares(self, frames: int) -> np.ndarray:
        """A's and B's shares: ``[2]``, or ``[2, frames]`` when morphing or on a curve."""
        return self.shares_along(frame_controls(self, frames))

    def blend_latents(self, latents: list[np.ndarray], latent_frames: int) -> np.ndarray:
        return self.latent_along(latents, frame_controls(self, latent_frames))

    def shares_along(self, controls: np.ndarray) -> np.ndarray:
        """Shares ``[2]`` or ``[2, frames]`` at controls ``[1]`` or ``[frames, 1]`` (α)."""
        share_b = self.model_alpha(controls[..., 0])
        return np.stack([1 - share_b, share_b]).astype(np.float32)

    def latent_along(self, latents: list[np.ndarray], controls: np.ndarray) -> np.ndarray:
        """The blended latent at controls ``[1]`` or ``[latent_frames, 1]``."""
        return latent.blend(*latents, self.model_alpha(controls[..., 0]), self.mode)


@dataclass(frozen=True)
class PadSettings:
    """Where the puck is on the four-corner pad, or the path it follows over the excerpt.

    A is at (0, 0), B at (1, 0), C at (0, 1), D at (1, 1) (see ``latent.bilinear``).
    ``path``: (x, y) points spread evenly over the excerpt (at least two); empty
    for a puck that stays at ``(x, y)``. ``curve``: (seconds, x, y) points of a
    performance (see the module docstring).
    """

    x: float = 0.5
    y: float = 0.5
    path: tuple[tuple[float, float], ...] = ()
    mode: latent.Mode = latent.DEFAULT_MODE
    keep_detail: bool = True
    steady_level: bool = True
    curve: Curve = ()
    curve_start_s: float = 0.0

    slots: ClassVar[tuple[str, ...]] = ("A", "B", "C", "D")
    control_names: ClassVar[tuple[str, ...]] = ("x", "y")

    def __post_init__(self) -> None:
        for value in (self.x, self.y, *(v for point in self.path for v in point)):
            limits.PAD.check(value, "a pad position")
        if len(self.path) == 1 or any(len(point) != 2 for point in self.path):
            raise limits.OptionError("a pad path needs two or more (x, y) points")
        _check_mode(self.mode)
        _check_curve(self, (limits.PAD, limits.PAD))
        if self.curve and self.path:
            raise limits.OptionError("the puck follows either a curve or a path, not both")

    @property
    def morph(self) -> bool:
        return bool(self.path)

    @property
    def controls(self) -> tuple[float, ...]:
        """Where the controls are: ``(x, y)``."""
        return (self.x, self.y)

    def position(self, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """x and y: numbers (0-d), or ``[frames]`` each along the path or curve."""
        controls = frame_controls(self, frames)
        return controls[..., 0], controls[..., 1]

    def shares(self, frames: int) -> np.ndarray:
        """Each corner's share, A B C D: ``[4]``, or ``[4, frames]`` along a path."""
        return self.shares_along(frame_controls(self, frames))

    def blend_latents(self, latents: list[np.ndarray], latent_frames: int) -> np.ndarray:
        return self.latent_along(latents, frame_controls(self, latent_frames))

    def shares_along(self, controls: np.ndarray) -> np.ndarray:
        """Shares ``[4]`` or ``[4, frames]`` at controls ``[2]`` or ``[frames, 2]`` (x, y)."""
        return latent.pad_shares(controls[..., 0], controls[..., 1])

    def latent_along(self, latents: list[np.ndarray], controls: np.ndarray) -> np.ndarray:
        """The blended latent at controls ``[2]`` or ``[latent_frames, 2]``."""
        return latent.bilinear(tuple(latents), controls[..., 0], controls[..., 1], self.mode)


Settings = BlendSettings | PadSettings


def curve_frames(settings: Settings, seconds_per_frame: float) -> int:
    """Frames of the settings' curve (its points on frames), 0 without one."""
    return round(settings.curve[-1][0] / seconds_per_frame) + 1 if settings.curve else 0


def _check_curve(settings: Settings, ranges: tuple[limits.Range, ...]) -> None:
    """A curve: two or more (seconds, control, …) points, in time order, each control in
    its range; and where in the excerpt it begins."""
    limits.CURVE_S.check(settings.curve_start_s, "a curve's start in the excerpt")
    curve = settings.curve
    if not curve:
        return
    names = ", ".join(settings.control_names)
    if len(curve) < 2 or any(len(point) != 1 + len(ranges) for point in curve):
        raise limits.OptionError(f"a curve needs two or more (seconds, {names}) points")
    for seconds, *controls in curve:
        limits.CURVE_S.check(seconds, "a curve's time")
        for value, allowed, name in zip(controls, ranges, settings.control_names, strict=True):
            allowed.check(value, f"a curve's {name}")
    times = [point[0] for point in curve]
    if any(later <= earlier for earlier, later in itertools.pairwise(times)):
        raise limits.OptionError("a curve's times must rise from point to point")


def _check_mode(mode: str) -> None:
    if mode not in latent.MODES:
        raise limits.OptionError(f"interpolation {mode!r} is not one of {', '.join(latent.MODES)}")


def frame_controls(settings: Settings, frames: int) -> np.ndarray:
    """The controls (α, or x and y) per frame, ``[frames, k]``, when they move (a morph,
    a path or a curve), else ``[k]``. A curve's points lie on their frames when
    ``frames`` is its :func:`curve_frames`; a morph or a path spans the excerpt."""
    if settings.curve:
        points = np.asarray(settings.curve, np.float64)
        at = np.linspace(0, points[-1, 0], frames)
        values = [np.interp(at, points[:, 0], points[:, k]) for k in range(1, points.shape[1])]
        return np.stack(values, axis=1).astype(np.float32)
    if isinstance(settings, BlendSettings) and settings.morph:
        return latent.ramp(frames)[:, None]
    if isinstance(settings, PadSettings) and settings.path:
        points = np.asarray(settings.path, np.float64)
        at, knots = np.linspace(0, 1, frames), np.linspace(0, 1, len(points))
        values = [np.interp(at, knots, points[:, k]) for k in (0, 1)]
        return np.stack(values, axis=1).astype(np.float32)
    return np.asarray(settings.controls, np.float32)
