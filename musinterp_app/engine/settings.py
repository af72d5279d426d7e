"""How a blend is asked for: two tracks and α (:class:`BlendSettings`) or four corners and a
puck (:class:`PadSettings`); frozen values that travel from the controls to the engine."""

import itertools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from musinterp_app import limits
from musinterp_app.model import latent

SLOTS = ("A", "B", "C", "D")  # A and B: the two-track blend; all four: the pad


@dataclass(frozen=True)
class BlendSettings:
    """How to blend. ``alpha``: 0 = all A, 1 = all B."""

    alpha: float = 0.5
    mode: latent.Mode = latent.DEFAULT_MODE
    morph: bool = False  # α ramps from 0 to 1 across the excerpt
    keep_detail: bool = True  # add back each track's residual, weighted by its share
    steady_level: bool = True  # each frame's level follows the α-interpolated sources' level
    steps: tuple[float, ...] = ()  # α at evenly spaced slider positions (Engine.even_steps)
    # A performance: (seconds, α) points, α linear between them; the blend lasts until
    # the last point and the excerpt repeats under it (see Blend.of). () for one α.
    curve: tuple[tuple[float, float], ...] = ()
    curve_start_s: float = 0.0  # where in the excerpt a performance begins

    slots: ClassVar[tuple[str, ...]] = ("A", "B")

    def __post_init__(self) -> None:
        limits.ALPHA.check(self.alpha, "α")
        _check_mode(self.mode)
        if self.steps and (self.steps[0] != 0 or self.steps[-1] != 1 or len(self.steps) < 2):
            raise limits.OptionError("even steps must run from α = 0 to α = 1")
        if self.curve:
            _check_curve(self.curve)
            if self.morph:
                raise limits.OptionError("a blend follows either a curve or a morph, not both")
        limits.CURVE_S.check(self.curve_start_s, "a curve's start in the excerpt")

    def curve_frames(self, seconds_per_frame: float) -> int:
        """Frames of the performance ``curve`` (its points at their frames), 0 without one."""
        return round(self.curve[-1][0] / seconds_per_frame) + 1 if self.curve else 0

    def model_alpha(self, alpha: np.ndarray) -> np.ndarray:
        """The slider's α (any shape) as the model's: through ``steps`` when they are set."""
        if not self.steps:
            return np.asarray(alpha, np.float32)
        knots = np.linspace(0, 1, len(self.steps))
        return np.interp(alpha, knots, self.steps).astype(np.float32)

    def shares(self, frames: int) -> np.ndarray:
        """A's and B's shares: ``[2]``, or ``[2, frames]`` when morphing."""
        share_b = _frame_alpha(self, frames)
        return np.stack([1 - share_b, share_b]).astype(np.float32)

    def blend_latents(self, latents: list[np.ndarray], latent_frames: int) -> np.ndarray:
        return latent.blend(*latents, _frame_alpha(self, latent_frames), self.mode)


def _check_curve(curve: tuple[tuple[float, float], ...]) -> None:
    """A performance curve: two or more (seconds, α) points, in time order."""
    if len(curve) < 2 or any(len(point) != 2 for point in curve):
        raise limits.OptionError("a curve needs two or more (seconds, α) points")
    for seconds, alpha in curve:
        limits.CURVE_S.check(seconds, "a curve's time")
        limits.ALPHA.check(alpha, "a curve's α")
    times = [seconds for seconds, _ in curve]
    if any(later <= earlier for earlier, later in itertools.pairwise(times)):
        raise limits.OptionError("a curve's times must rise from point to point")


def _check_mode(mode: str) -> None:
    if mode not in latent.MODES:
        raise limits.OptionError(f"interpolation {mode!r} is not one of {', '.join(latent.MODES)}")


@dataclass(frozen=True)
class PadSettings:
    """Where the puck is on the four-corner pad, or the path it follows over the excerpt.

    A is at (0, 0), B at (1, 0), C at (0, 1), D at (1, 1) (see ``latent.bilinear``).
    ``path``: (x, y) points spread evenly over the excerpt (at least two); empty
    for a puck that stays at ``(x, y)``.
    """

    x: float = 0.5
    y: float = 0.5
    path: tuple[tuple[float, float], ...] = ()
    mode: latent.Mode = latent.DEFAULT_MODE
    keep_detail: bool = True
    steady_level: bool = True

    slots: ClassVar[tuple[str, ...]] = ("A", "B", "C", "D")

    def __post_init__(self) -> None:
        for value in (self.x, self.y, *(v for point in self.path for v in point)):
            limits.PAD.check(value, "a pad position")
        if len(self.path) == 1 or any(len(point) != 2 for point in self.path):
            raise limits.OptionError("a pad path needs two or more (x, y) points")
        _check_mode(self.mode)

    @property
    def morph(self) -> bool:
        return bool(self.path)

    def position(self, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """x and y: numbers (0-d), or ``[frames]`` each along the path."""
        if not self.path:
            return np.float32(self.x), np.float32(self.y)
        points = np.asarray(self.path, np.float64)
        at = np.linspace(0, 1, frames)
        knots = np.linspace(0, 1, len(points))
        x, y = (np.interp(at, knots, points[:, k]).astype(np.float32) for k in (0, 1))
        return x, y

    def shares(self, frames: int) -> np.ndarray:
        """Each corner's share, A B C D: ``[4]``, or ``[4, frames]`` along a path."""
        return latent.pad_shares(*self.position(frames))

    def blend_latents(self, latents: list[np.ndarray], latent_frames: int) -> np.ndarray:
        return latent.bilinear(tuple(latents), *self.position(latent_frames), self.mode)


Settings = BlendSettings | PadSettings


def _frame_alpha(settings: BlendSettings, frames: int) -> np.ndarray:
    """B's share per frame: ``[frames]`` when morphing or following a curve, else one
    number (a 0-d array); mapped through ``settings.steps`` when they are set (even steps).
    A curve's points lie at their frames when ``frames`` is its ``curve_frames``."""
    if settings.curve:
        times, values = np.asarray(settings.curve, np.float64).T
        alpha = np.interp(np.linspace(0, times[-1], frames), times, values)
    else:
        alpha = latent.ramp(frames) if settings.morph else np.float32(settings.alpha)
    return settings.model_alpha(alpha)
