"""Live playback: the blend rendered a little ahead of the playhead while α moves.

:class:`LiveRenderer` turns the slider's α, read afresh for every chunk, into
audio: each output frame's α follows the control through a short linear ramp
(so a jump is neither a click nor a zipper), the latent window under each
chunk is decoded at those α, and Griffin-Lim goes on from what was played
(a :class:`~musinterp_app.audio.griffinlim.GriffinLimStream`, started from the
sources' phase), so joins are seamless. The excerpt repeats under the
performance when it loops. The α applied to every frame is kept: a
performance exported from it (``BlendSettings.curve``) renders what was heard.

:class:`LivePlayback` runs a renderer on its own thread, keeping
``lookahead_s`` of audio in a :class:`~musinterp_app.audio.player.LiveFeed`
ahead of the audio callback; the callback only copies, and counts a dropout
rather than wait when the renderer is late.

Frames are mel frames (``hop_length`` samples) of the output, counted from
where playback started; the repeating excerpt's frame under output frame
``f`` is ``(origin + f) % period``.
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from musinterp_app.audio import levels, mel
from musinterp_app.audio.griffinlim import GriffinLimStream
from musinterp_app.audio.player import LiveFeed
from musinterp_app.engine.blend import Blend
from musinterp_app.engine.core import RENDER_SEED, RENDER_STRIDE, Engine
from musinterp_app.engine.export import RENDER_ITERATIONS
from musinterp_app.engine.settings import BlendSettings, Curve, Settings

# Measured on 2 cores (musinterp bench, live.*): see docs/benchmark.md.
CHUNK_STRIDED_FRAMES = 2  # 2048 samples (62.5 ms) per chunk: latency grows with the chunk
RAMP_FRAMES = 2  # a step of α is spread over 2 frames (16 ms): no click (live.join_jump_ratio)
# While α moves, a chunk runs 8 Griffin-Lim iterations and 16 updates of the mel inverse:
# the live output's SC against the blend of the α it applied, 5 s of a random walk, was
# -14.83 dB against -14.92 with 16 and 32, the chunk 14.7 ms against 17.7 (one decode thread).
MOVING_ITERATIONS = 8
MOVING_MEL_ITERATIONS = 16
URGENT_ITERATIONS = 4  # and when the device is about to run dry: quality gives, not continuity
URGENT_S = 0.03  # "about to run dry": less than this waits in the feed
# Once α has rested for a ramp, a chunk runs 1.5 × the export's iterations: each chunk sees
# less of what follows than an export's long chunks do, and with 1.5 × the live output's SC
# came within 0.18 / 0.11 / 0.02 dB of the export's at α = 0.3 / 0.5 / 0.8 (0.19 / 0.32 /
# 0.13 dB with the same 32).
RESTING_SHARE = 1.5
# Audio kept ahead of the callback. A device block (1024 samples at 48 kHz) is 21.3 ms and
# a chunk renders in ~22 ms (p95 ~37 ms) beside the window's work, so the render must start
# with 2 blocks or more still waiting. In the window, 60 s of motion (docs/benchmark.md):
# 45 ms: α → sound 83-96 ms, 3-12 dropouts; 55 ms: 93 ms, 1-2; 64 ms: 103-109 ms, 0-1.
LOOKAHEAD_S = 0.064
RESTING_DECODE_LATENT = 16  # latent frames decoded at once while α rests (0.5 s)
# Latent frames decoded on each side of a chunk: the decoder's output there, against one
# decode of the whole excerpt, differs by at most 0.34 dB with 6, 0.05 dB with 8, 0.008 dB
# with 10 and not at all from 12 on (13 windows of the examples' α = 0.4 blend); 8 saves a
# quarter of each chunk's decode.
LIVE_MARGIN_LATENT = 8


@dataclass(frozen=True)
class Ramp:
    """The controls moving linearly from ``start`` (their values at frame
    ``first_frame − 1``) to ``target`` over ``RAMP_FRAMES`` frames, then holding it."""

    first_frame: int
    start: tuple[float, ...]
    target: tuple[float, ...]

    def at(self, frames: np.ndarray) -> np.ndarray:
        """The controls at output ``frames`` ``[n]`` (from ``first_frame`` on), ``[n, k]``."""
        progress = np.clip((frames - self.first_frame + 1) / RAMP_FRAMES, 0.0, 1.0)[:, None]
        start, target = np.asarray(self.start), np.asarray(self.target)
        return (start + (target - start) * progress).astype(np.float32)


class LiveRenderer:
    """A blend's audio chunk by chunk while its controls move (see the module docstring).

    ``settings``: the blend's or the pad's options (mode, keep detail, steady level,
    even steps) and where its controls start (α, or the puck's x and y);
    ``iterations``: the render quality chosen (an export's Griffin-Lim iterations);
    ``start_frame``: where in the excerpt playback starts (rounded down to a latent
    frame); ``loop``: repeat the excerpt, else end with it. ``target`` (a tuple of
    the controls) may be set from any thread; ``next_chunk`` runs on one thread only.
    """

    def __init__(
        self,
        engine: Engine,
        settings: BlendSettings,
        *,
        start_frame: int = 0,
        loop: bool = True,
        iterations: int = RENDER_ITERATIONS,
    ) -> None:
        self.model, self.settings = engine.model, _still(settings)
        self.resting_iterations = round(RESTING_SHARE * iterations)
        self.moving_iterations = min(MOVING_ITERATIONS, iterations)
        self.tracks = [engine.tracks[slot] for slot in settings.slots]
        controls = np.asarray([settings.controls], np.float32)
        Blend.along(self.model, self.settings, self.tracks, controls, first_frame=0)  # a check
        self.config: mel.MelConfig = self.model.mel_config
        self.reduction = self.model.info.time_reduction
        self.stride = RENDER_STRIDE
        self._align = math.lcm(self.stride, self.reduction)  # where windows may begin
        self.period = min(t.frames for t in self.tracks) // self.reduction * self.reduction
        self.origin = start_frame % self.period
        self.origin -= self.origin % math.lcm(self.stride, self.reduction)
        self.loop = loop
        self.target = settings.controls  # the controls as the user last set them
        # The controls applied to the frames handed out, [frames, k] (k: 1 for α, 2 for x, y).
        self.applied = np.zeros((0, len(settings.controls)), np.float32)
        self._ramp = Ramp(0, settings.controls, settings.controls)
        self._planned = self.applied  # the controls of the frames being rendered, from `done`
        # While the controls rest: their values, a block's first strided frame, its magnitudes.
        self._resting: tuple[tuple[float, ...], int, np.ndarray] | None = None
        self._window: Blend | None = None  # the blend under the chunk being rendered
        self._chunk_stop = 0  # the frame after those the chunk being rendered hands out
        strided_end = None if loop else -(-(self.period - self.origin) // self.stride)
        self.griffin_lim = GriffinLimStream(
            self._magnitude_frames,
            strided_end,
            n_fft=self.config.n_fft,
            hop_length=self.config.hop_length * self.stride,
            rng=np.random.default_rng(RENDER_SEED),
            phase_frames=self._phase_frames,
            phase_gradient=True,
        )
        self.limiter = levels.PeakLimiter(self.config.sample_rate)
        self.resting_since = 0  # the first frame of the current rest (α steady)

    # ----- what is rendered -----------------------------------------------------------------
    @property
    def done(self) -> int:
        """Output frames handed out so far."""
        return len(self.applied)

    @property
    def alpha(self) -> np.ndarray:
        """The first control applied to each frame handed out (α of a blend), ``[frames]``."""
        return self.applied[:, 0]

    @property
    def ended(self) -> bool:
        end = self.griffin_lim.n_frames
        return end is not None and self.griffin_lim.start >= end

    def excerpt_frame(self, frame: int) -> int:
        """The excerpt's frame under output ``frame``."""
        return (self.origin + frame) % self.period

    def next_chunk(self, *, urgent: bool = False) -> np.ndarray:
        """The next ``CHUNK_STRIDED_FRAMES · stride · hop`` samples at the model's rate,
        rendered at the α the control has now (ramped from the last frame's); ``urgent``:
        the device is about to run dry, so fewer iterations."""
        target, done = tuple(float(value) for value in self.target), self.done
        if target != self._ramp.target:
            start = tuple(float(value) for value in self.applied[-1]) if done else target
            self._ramp = Ramp(done, start, target)
            self.resting_since = done + RAMP_FRAMES
        strided_stop = self.griffin_lim.start + CHUNK_STRIDED_FRAMES
        self._chunk_stop = strided_stop * self.stride
        look_ahead = (strided_stop + self.griffin_lim.context) * self.stride
        self._planned = self._ramp.at(np.arange(done, look_ahead))
        resting = done >= self.resting_since
        self._window = None
        samples = self.griffin_lim.chunk(
            strided_stop,
            n_iter=URGENT_ITERATIONS
            if urgent
            else self.resting_iterations
            if resting
            else self.moving_iterations,
            fresh=True,
        )
        frames = len(samples) // self.config.hop_length
        self.applied = np.concatenate([self.applied, self._planned[:frames]])
        return self.limiter.process(samples)

    def _controls_over(self, first: int, stop: int) -> np.ndarray:
        """The controls of output frames ``[first, stop)``, ``[n, k]``: as applied before
        ``done``, as planned after it (held at the ends)."""
        done, planned = self.done, self._planned
        if not done + len(planned):
            return np.tile(np.asarray(self.target, np.float32), (stop - first, 1))
        frames = np.clip(np.arange(first, stop), 0, done + len(planned) - 1)
        past = frames < done  # only the frames asked for are read: no copy of the history
        out = np.empty((len(frames), self.applied.shape[1]), np.float32)
        out[past] = self.applied[frames[past]]
        out[~past] = planned[frames[~past] - done]
        return out

    def _blend_over(self, first: int, stop: int) -> Blend:
        """The blend of output frames ``[first, stop)`` (``first`` on a latent frame)."""
        return Blend.along(
            self.model,
            self.settings,
            self.tracks,
            self._controls_over(first, stop),
            first_frame=self.origin + first,
        )

    def _window_for(self, first: int, stop: int) -> tuple[Blend, int]:
        """A blend covering frames ``[first, stop)`` and where ``first`` lies in it: with
        the decoder's reach on the left, and on the right beyond the frames handed out
        next (the look-ahead after them is solved again by the next chunk anyway)."""
        margin = LIVE_MARGIN_LATENT * self.reduction
        stop = max(stop, self._chunk_stop + margin)
        window = self._window
        if window is None or not (
            window.first_frame - self.origin + margin <= first
            and stop <= window.first_frame - self.origin + window.frames
        ):
            lo = first - margin
            lo -= lo % self._align  # on a latent frame and a strided one
            window = self._blend_over(lo, stop)
            self._window = window
        return window, first - (window.first_frame - self.origin)

    def _magnitude_frames(self, start: int, stop: int) -> np.ndarray:
        """Griffin-Lim's magnitudes of strided frames ``[start, stop)``: decoded at the α
        under them, or cut from a block decoded at one α while it rests."""
        controls = self._controls_over(start * self.stride, stop * self.stride)
        if np.all(controls == controls[0]) and self.done >= self.resting_since:
            still = tuple(float(value) for value in controls[0])
            block = self._resting
            if (
                block is None
                or block[0] != still
                or not (block[1] <= start and stop <= block[1] + block[2].shape[1])
            ):
                length = max(stop - start, RESTING_DECODE_LATENT * self.reduction // self.stride)
                magnitudes = self._magnitudes(start, start + length)
                self._resting = block = (still, start, magnitudes)
            return block[2][:, start - block[1] : stop - block[1]]
        return self._magnitudes(start, stop)

    def _magnitudes(self, start: int, stop: int) -> np.ndarray:
        """Magnitudes ``[n_bins, stop − start]`` of strided frames decoded at the α under them."""
        first, last = start * self.stride, stop * self.stride
        window, offset = self._window_for(first, last)
        log_mel = window.mel(offset, offset + last - first)[:, :: self.stride]
        resting = self.done >= self.resting_since
        n_iter = mel.MEL_INVERSE_ITERATIONS if resting else MOVING_MEL_ITERATIONS
        return mel.to_magnitude(log_mel, self.config, n_iter=n_iter)

    def _phase_frames(self, start: int, stop: int) -> np.ndarray:
        """The sources' mix at strided frames ``[start, stop)``: the starting phase."""
        first, last = start * self.stride, stop * self.stride
        window, offset = self._window_for(first, last)
        phase = window.source_phase(stride=self.stride)
        return phase(offset // self.stride, offset // self.stride + stop - start)

    def curve(self, first_frame: int = 0, stop_frame: int | None = None) -> Curve:
        """The controls applied to output frames ``[first_frame, stop_frame)`` as (seconds,
        control, …) points, the first at 0 s: only the points where a slope changes (what
        was applied is linear between them), the controls rounded to 1e-6."""
        controls = np.round(self.applied[first_frame:stop_frame].astype(np.float64), 6)
        if len(controls) < 2:
            raise ValueError("nothing was recorded yet")
        slope = np.diff(controls, axis=0)
        keep = np.ones(len(controls), bool)
        keep[1:-1] = np.any(np.abs(np.diff(slope, axis=0)) > 1e-9, axis=1)
        seconds_per_frame = self.config.hop_length / self.config.sample_rate
        times = np.flatnonzero(keep) * seconds_per_frame
        return tuple(
            (float(t), *(float(value) for value in point))
            for t, point in zip(times, controls[keep], strict=True)
        )

    def performance(self, first_frame: int = 0, stop_frame: int | None = None) -> Settings:
        """The settings that render what was heard of output frames ``[first_frame,
        stop_frame)``: the applied controls as a curve, from where it was in the excerpt."""
        seconds_per_frame = self.config.hop_length / self.config.sample_rate
        start_s = round(self.excerpt_frame(first_frame) * seconds_per_frame, 6)
        curve = self.curve(first_frame, stop_frame)
        return replace(self.settings, curve=curve, curve_start_s=start_s)

    def set_settings(self, settings: Settings) -> None:
        """New options (mode, keep detail, steady level, even steps) from the next chunk
        on; the controls stay the user's (call between chunks: the render thread does)."""
        self.settings = _still(settings)
        self._resting = None

    def set_loop(self, on: bool) -> None:
        """Repeat the excerpt, or end at its next end (from the next chunk on; call
        between chunks: the render thread does)."""
        self.loop = on
        if on:
            self.griffin_lim.n_frames = None
        else:
            start = self.griffin_lim.start * self.stride
            left = (self.period - self.excerpt_frame(start)) % self.period or self.period
            self.griffin_lim.n_frames = -(-(start + left) // self.stride)  # as when built


class LivePlayback:
    """A :class:`LiveRenderer` on its own thread, feeding a :class:`LiveFeed`.

    ``make_renderer`` builds the renderer on that thread (even steps may need
    measuring first). ``set_target`` may be called from any thread; ``stop`` ends
    the thread. It renders whenever less than ``lookahead_s`` waits in the feed.
    """

    def __init__(
        self,
        make_renderer: Callable[[], LiveRenderer],
        feed: LiveFeed,
        *,
        lookahead_s: float = LOOKAHEAD_S,
        capture: bool = False,
    ) -> None:
        self.make_renderer, self.feed, self.lookahead_s = make_renderer, feed, lookahead_s
        # With ``capture``: every chunk as rendered (model rate), for the benchmark.
        self.captured: list[np.ndarray] | None = [] if capture else None
        self.chunk_seconds: list[float] = []  # compute time of each chunk (with ``capture``)
        self.renderer: LiveRenderer | None = None  # once the thread has built it
        self.error = ""  # why rendering stopped, if it failed
        self.render_seconds = 0.0  # compute spent in next_chunk
        self._target: tuple[float, ...] | None = None  # the controls' last place (None: unmoved)
        self._changes: list[Callable[[LiveRenderer], None]] = []  # applied between chunks
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live render", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def set_target(self, controls: tuple[float, ...]) -> None:
        """Where the controls are now (α, or the puck's x and y)."""
        self._target = controls  # read by the thread once it has built the renderer
        renderer = self.renderer
        if renderer is not None:
            renderer.target = controls
        self._wake.set()

    def set_settings(self, settings: Settings) -> None:
        """New options from the next chunk on (see :meth:`LiveRenderer.set_settings`)."""
        self._changes.append(lambda renderer: renderer.set_settings(settings))
        self._wake.set()

    def set_loop(self, on: bool) -> None:
        self._changes.append(lambda renderer: renderer.set_loop(on))
        self._wake.set()

    def heard_frames(self) -> int:
        """Output frames the device has been handed so far."""
        renderer, feed = self.renderer, self.feed
        if renderer is None:
            return 0
        source = (feed.read + feed.delay_samples) * renderer.config.sample_rate / feed.output_rate
        return max(0, min(renderer.done, int(source // renderer.config.hop_length)))

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        feed = self.feed
        try:
            renderer = self.make_renderer()
            self.renderer = renderer
            if self._target is not None:  # the controls moved while it was being built
                renderer.target = self._target
            while not self._stopping.is_set() and not renderer.ended:
                while self._changes:
                    self._changes.pop(0)(renderer)
                if feed.ahead_s >= self.lookahead_s:
                    self._wake.wait(0.002)
                    self._wake.clear()
                    continue
                began = time.perf_counter()
                chunk = renderer.next_chunk(urgent=feed.ahead_s < URGENT_S)
                self.render_seconds += time.perf_counter() - began
                if self.captured is not None:
                    self.captured.append(chunk)
                    self.chunk_seconds.append(time.perf_counter() - began)
                feed.write(chunk, last=renderer.ended)
        except Exception as error:  # shown by the window; the feed plays out what it has
            self.error = str(error) or type(error).__name__
            feed.write(np.zeros(0, np.float32), last=True)


def _still(settings: Settings) -> Settings:
    """``settings`` without what moves its controls by itself (a morph, a path, a curve):
    live, the user moves them."""
    if isinstance(settings, BlendSettings):
        return replace(settings, morph=False, curve=())
    return replace(settings, path=(), curve=())
