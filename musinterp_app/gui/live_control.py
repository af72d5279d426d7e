"""The blend played live from the window: started, moved, stopped, where it is, what
was recorded (no Qt signals: the session says what happened).

One :class:`~musinterp_app.engine.live.LivePlayback` at a time renders the blend
on its own thread into a feed the player plays; α goes to it as the control moves,
so playback never restarts or jumps. *Record* keeps the span of output frames
heard while it was on; the renderer's applied α over that span is the
performance (``BlendSettings.curve``) that *Export performance…* renders.
"""

import threading
from collections.abc import Callable

from musinterp_app.audio import player as playback
from musinterp_app.base import limits
from musinterp_app.engine import Engine, Settings
from musinterp_app.engine.live import LivePlayback, LiveRenderer

LIVE_DECODE_THREADS = 1  # live decodes on one core, the window's decodes on the rest


class LiveControl:
    """Live playback of one blend through ``player`` (see the module docstring)."""

    def __init__(self, player: playback.Player) -> None:
        self.player = player
        self.playback: LivePlayback | None = None
        self.recording = False
        self._record_from: int | None = None  # output frame where recording began
        self.performance: Settings | None = None  # the last one recorded
        self.capture = False  # keep every chunk rendered (the benchmark reads them)
        # One-thread twins of the model (the same weights in other sessions), one for the
        # renderer and one for the window's decodes while it plays: a session shared by the
        # two made the renderer wait for a decode running at the jobs' low priority.
        self._twins: dict[str, tuple[Engine, Engine]] = {}  # use → (engine, it on a twin)
        self._lock = threading.Lock()

    def engine_for(self, engine: Engine, use: str = "render") -> Engine:
        """``engine`` decoding on a one-thread twin of its model kept for ``use``
        (``"render"`` or ``"display"``), built once per engine (call on a worker)."""
        with self._lock:
            known = self._twins.get(use)
            if known is None or known[0] is not engine:
                previous = None if known is None else known[1].model
                same_model = previous is not None and known[0].model is engine.model
                twin = previous if same_model else engine.model.twin(threads=LIVE_DECODE_THREADS)
                self._twins[use] = (engine, engine.sharing_tracks(twin))
            return self._twins[use][1]

    def release_models(self) -> None:
        """Let go of the twins (another model is in use now; they are built again)."""
        with self._lock:
            self._twins.clear()

    def decoding_engine(self, engine: Engine) -> Engine:
        """The engine the window's decodes use: while the blend plays live, ``engine`` on a
        one-thread twin of its own (when built), leaving a core to the renderer."""
        known = self._twins.get("display")
        if self.running and known is not None and known[0] is engine:
            return known[1]
        return engine

    @property
    def renderer(self) -> LiveRenderer | None:
        return None if self.playback is None else self.playback.renderer

    @property
    def running(self) -> bool:
        return self.playback is not None

    def start(
        self,
        engine: Engine,
        settings: Settings,
        *,
        heard: Callable[[Engine, Settings], Settings],
        start_frame: int,
        loop: bool,
        iterations: int,
    ) -> playback.LiveFeed:
        """Start rendering ``settings`` from excerpt frame ``start_frame`` (the renderer
        is built on its thread: ``heard`` may measure even steps); returns the feed to play."""
        self.stop()
        feed = self.player.new_feed()

        def make_renderer() -> LiveRenderer:
            live_engine = self.engine_for(engine)
            self.engine_for(engine, "display")
            return LiveRenderer(
                live_engine,
                heard(live_engine, settings),
                start_frame=start_frame,
                loop=loop,
                iterations=iterations,
            )

        self.playback = LivePlayback(make_renderer, feed, capture=self.capture)
        self.playback.start()
        if self.recording:
            self._record_from = 0
        return feed

    def set_target(self, *controls: float) -> None:
        """Where the controls are now: α, or the puck's x and y."""
        if self.playback is not None:
            self.playback.set_target(tuple(controls))

    def set_settings(self, heard: Settings) -> None:
        """New options (already through even steps) from the next chunk on."""
        if self.playback is not None:
            self.playback.set_settings(heard)

    def set_loop(self, on: bool) -> None:
        if self.playback is not None:
            self.playback.set_loop(on)

    def stop(self) -> None:
        """End the render thread (what was recorded is kept as the performance)."""
        playback_, self.playback = self.playback, None
        if playback_ is not None:
            playback_.stop()
            self._finish_recording(playback_)

    @property
    def error(self) -> str:
        return "" if self.playback is None else self.playback.error

    def position_s(self) -> float | None:
        """Where in the excerpt the sample playing now lies (seconds), None before the
        first chunk."""
        renderer = self.renderer
        if renderer is None or self.player.buffer is not self.playback.feed:
            return None
        frame = renderer.excerpt_frame(self.playback.heard_frames())
        return frame * renderer.config.hop_length / renderer.config.sample_rate

    # ----- recording ---------------------------------------------------------------------------
    def set_recording(self, on: bool) -> None:
        """Start recording at the frame heard now, or stop and keep the performance."""
        if on == self.recording:
            return
        self.recording = on
        if on:  # from the frame heard now (or the first, while playback is starting)
            self._record_from = None if self.playback is None else self.playback.heard_frames()
        else:
            self._finish_recording(self.playback)

    def _finish_recording(self, live: LivePlayback | None) -> None:
        """Keep what was heard since recording began as the performance: from a latent
        frame (where a render of it can begin), ten minutes at most (what a curve holds)."""
        first, self._record_from = self._record_from, None
        renderer = None if live is None else live.renderer
        if renderer is None or first is None:
            return
        first -= first % renderer.reduction
        seconds_per_frame = renderer.config.hop_length / renderer.config.sample_rate
        longest = int(limits.CURVE_S.high / seconds_per_frame)
        stop = min(live.heard_frames(), first + longest)
        if stop - first >= 2:
            self.performance = renderer.performance(first, stop)
