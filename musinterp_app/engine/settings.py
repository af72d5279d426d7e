"""How a blend is asked for: two tracks and α (:class:`BlendSettings`) or four corners and a
puck (:class:`PadSettings`); frozen values that travel from the controls to the engine."""

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

    slots: ClassVar[tuple[str, ...]] = ("A", "B")

    def __post_init__(self) -> None:
        limits.ALPHA.check(self.alpha, "α")
        _check_mode(self.mode)
        if self.steps and (self.steps[0] != 0 or self.steps[-1] != 1 or len(self.steps) < 2):
            raise limits.OptionError("even steps must run from α = 0 to α = 1")

    def shares(self, frames: int) -> np.ndarray:
        """A's and B's shares: ``[2]``, or ``[2, frames]`` when morphing."""
        share_b = _frame_alpha(self, frames)
        return np.stack([1 - share_b, share_b]).astype(np.float32)

    def blend_latents(self, latents: list[np.ndarray], latent_frames: int) -> np.ndarray:
        return latent.blend(*latents, _frame_alpha(self, latent_frames), self.mode)


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
    """B's share per frame: ``[frames]`` when morphing, else one number (a 0-d array);
    mapped through ``settings.steps`` when they are set (even steps)."""
    alpha = latent.ramp(frames) if settings.morph else np.float32(settings.alpha)
    if settings.steps:
        knots = np.linspace(0, 1, len(settings.steps))
        alpha = np.interp(alpha, knots, settings.steps).astype(np.float32)
    return alpha
