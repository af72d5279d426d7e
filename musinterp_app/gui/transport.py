"""Playback beside the session: the player, live playback, and what plays where.

:class:`Transport` belongs to a :class:`~musinterp_app.gui.session.Session` (its
``transport``) and reads the session's engine, blend settings and rendered blend; it
says what happens through the session's signals, so the window listens to one object.
The blend and the pad play live (``engine.live``: α or the puck follow the controls while
they play, never restarting), tracks and rendered morphs from buffers; ▶ A, ▶ B and
▶ Blend switch at the same place in the excerpt. The output stream stays open between
sounds; a dead device turns playback off until a restart.
"""

import contextlib

import numpy as np
from PySide6.QtCore import QObject, QTimer

from musinterp_app import engine
from musinterp_app.audio import io
from musinterp_app.audio import player as playback
from musinterp_app.engine import PAIR_SLOTS
from musinterp_app.gui.live_control import LiveControl

DRAG_DECODE_MS = 33  # ~30 Hz while the slider is dragged
# While the blend plays live the sound comes first: the picture follows at ~10 Hz, leaving
# the cores to the live renderer (at 30 Hz its 5-s decodes took a core and it dropped out).
LIVE_DRAG_DECODE_MS = 100
PLAY_FROM_S = 120.0  # "play from here" plays this much of the track at most
CURSOR_MS = 33
IDLE_RELEASE_MS = 60_000  # the output stream is closed after a minute of silence


class Transport(QObject):
    """What plays and how (see the module docstring), for ``session``; new players are
    made at ``sample_rate`` (the model's)."""

    def __init__(self, session, sample_rate: int) -> None:
        super().__init__(session)
        self.session = session
        self.loop, self.volume = False, 1.0
        self.output: tuple[str | None, int] = (None, 1024)  # device name, buffer (samples)
        self.player = self._new_player(sample_rate)
        self.live = LiveControl(self.player)  # the blend played live (α follows the slider)
        self.audio_problem = playback.unavailable_reason()  # '' when playback works
        self.playing = ""  # "A", "B", "blend", "pad" (the pad's blend) or ""
        self._playing_offset_s = 0.0
        self.play_when_ready = False  # a render asked for will play from its first chunk
        self._preview: tuple[str, float, bool, float] | None = None  # start_playback's args
        self.whole_track = False  # what plays is a whole track (play_from), not its excerpt
        self.reported_dropouts = 0
        self._audio_opening = False  # a worker is opening the output stream (open_audio)
        self.cursor_timer = QTimer(self, interval=CURSOR_MS, timeout=self._update_cursor)
        self.idle_timer = QTimer(
            self, interval=IDLE_RELEASE_MS, singleShot=True, timeout=self._release_idle_stream
        )
        session.lanes["preview"].finished.connect(self._preview_ready)

    def close(self) -> None:
        """Stop the cursor and idle timers and close the output stream."""
        self.cursor_timer.stop()
        self.idle_timer.stop()
        self.player.close()

    def open_audio(self) -> None:
        """Open the output stream in the background (silent until something plays), so that
        the blend a slider release renders sounds as soon as its first chunk is ready."""
        player = self.player
        if self.session.ready and not player.stream_open and not self.audio_problem:
            if not self._audio_opening:
                self._audio_opening = True
                self.session.pool.start(lambda: self._start_quietly(player))
            if not player.playing:
                self.idle_timer.start()

    def _start_quietly(self, player: playback.Player) -> None:
        """Open ``player``'s stream (on a worker); a failure is reported by the ``play``
        that needs it."""
        try:
            with contextlib.suppress(RuntimeError):
                player.start_stream()
        finally:
            self._audio_opening = False

    def _release_idle_stream(self) -> None:
        if not (self.player.playing or self.play_when_ready):
            self.player.release()

    def _new_player(self, sample_rate: int) -> playback.Player:
        device, block_size = self.output
        player = playback.Player(
            sample_rate, block_size=block_size, device=playback.device_index(device)
        )
        player.loop, player.volume = self.loop, self.volume
        return player

    def set_output(self, device: str | None, block_size: int) -> None:
        """Play through the output device called ``device`` (None: the system's default)
        with ``block_size``-sample buffers: what plays stops, the next play uses them."""
        if (device, block_size) == self.output:
            return
        self.output = (device, block_size)
        self.reopen(self.session.engine.config.sample_rate)
        self.audio_problem = playback.unavailable_reason()
        self.open_audio()

    def reopen(self, sample_rate: int) -> None:
        """A new player at ``sample_rate`` (another model or output): what plays stops."""
        self.stop()
        self.player.close()
        self.player = self.live.player = self._new_player(sample_rate)

    def output_words(self) -> str:
        """The output in a sentence: the device, its buffer and the latency (once open)."""
        device, block_size = self.output
        player = self.player
        buffer_ms = 1000 * block_size / player.output_rate
        words = f"{device or 'the default output'}, {block_size}-sample buffer ({buffer_ms:.0f} ms)"
        latency = player.latency_s
        return words + (f", {1000 * latency:.0f} ms to the speakers" if latency else "")

    def set_loop(self, on: bool) -> None:
        self.loop = self.player.loop = on
        self.live.set_loop(on)

    def set_volume(self, gain: float) -> None:
        """Playback gain, 0 … 1 (exports are not affected)."""
        self.volume = self.player.volume = gain

    def start_playback(
        self,
        buffer: playback.PlaybackBuffer | playback.LiveFeed,
        source: str,
        offset_s: float,
        whole: bool = False,
        at_s: float = 0.0,
    ) -> None:
        error = self.player.take_error()  # a device that died since the last check
        if error:
            self._audio_device_failed(error)
        if self.audio_problem:
            return
        if not isinstance(buffer, playback.LiveFeed):
            self._stop_live()  # A, B, a morph or the pad: the live blend gives way
        try:
            self.player.play(buffer, start_s=at_s)
        except RuntimeError as error:
            self.session.problem.emit("Cannot play", str(error))
            return
        self._set_playing(source, offset_s)
        self.whole_track = whole
        self.reported_dropouts = 0
        self.cursor_timer.start()
        self.session.playback_started.emit()

    def _set_playing(self, source: str, offset_s: float = 0.0) -> None:
        previous = self.playing
        self.playing, self._playing_offset_s = source, offset_s
        if previous and previous != source:
            self.session.cursor.emit(previous, None)
        if previous != source:
            self.session.playing_changed.emit(source)

    def excerpt_position_s(self) -> float:
        """Where in the excerpt the blend or track playing now is (seconds; 0 when nothing
        plays, or a whole track does)."""
        live = self.live.position_s()
        if live is not None:
            return live
        if self.playing in PAIR_SLOTS and not self.whole_track and self.player.playing:
            return self.player.position_s
        return 0.0

    def frame_playing(self) -> int:
        """The excerpt frame playing now (0 when nothing plays): where a switch starts."""
        if not self.playing:
            return 0
        config = self.session.engine.config
        return round(self.excerpt_position_s() * config.sample_rate / config.hop_length)

    def play_track(self, slot: str) -> None:
        """Play a track's excerpt (resampled to the device off the UI thread), from where
        the blend or the other track plays now."""
        track, player = self.session.engine.tracks[slot], self.player
        if track is not None and not self.audio_problem:
            at_s = self.excerpt_position_s()  # A / B / blend switch at the same place
            self._preview = (slot, track.start_s, False, at_s)
            self.session.lanes["preview"].submit(
                lambda _cancel, _progress: player.buffer_of(track.samples)
            )

    def play_from(self, slot: str, start_s: float) -> None:
        """Play the whole track in ``slot`` from ``start_s`` (``PLAY_FROM_S`` at most, read
        off the UI thread), the cursor on its overview."""
        track, player = self.session.engine.tracks[slot], self.player
        if track is None or self.audio_problem:
            return
        rate = self.session.engine.config.sample_rate
        self._preview = (slot, start_s, True, 0.0)
        self.session.lanes["preview"].submit(
            lambda cancel, _progress: player.buffer_of(
                io.load(
                    track.path,
                    sample_rate=rate,
                    offset_s=start_s,
                    duration_s=min(PLAY_FROM_S, track.info.duration_s - start_s),
                    cancel=cancel,
                )
            )
        )

    def play_pad_live(self, settings: engine.PadSettings) -> None:
        """Play the pad's blend live from where the blend plays (else from the start): the
        puck moves it while it plays (:meth:`move_puck`)."""
        if not self.session.ready or self.audio_problem:
            return
        if self.playing == "pad" and self.live.running:
            self.move_puck(settings.x, settings.y)
            return
        at = self.frame_playing()
        self.stop()
        feed = self.live.start(
            self.session.engine,
            settings,
            heard=self.session.heard,
            start_frame=at,
            loop=self.loop,
            iterations=self.session.render_options["iterations"],
        )
        self.start_playback(feed, "pad", 0.0)

    def move_puck(self, x: float, y: float) -> None:
        """The pad's puck moved: a pad blend playing live follows it."""
        if self.playing == "pad":
            self.live.set_target(x, y)

    def play_pad(self, audio: np.ndarray) -> None:
        """Play the pad's rendered morph along a drawn path (model-rate samples), its cursor
        on the blend view."""
        if not self.audio_problem:
            self.stop()
            self.start_playback(self.player.buffer_of(audio), "pad", 0.0)

    def _preview_ready(self, buffer: playback.PlaybackBuffer) -> None:
        if self._preview is not None:
            self.start_playback(buffer, *self._preview)

    def play_blend(self, *, start_frame: int | None = None) -> None:
        """Play the blend from excerpt frame ``start_frame`` (default: where A or B plays
        now, else the start): live (α follows the slider while it plays), or a morph
        rendered whole."""
        if not self.session.ready or self.audio_problem:
            return
        if start_frame is None:  # from where A or B plays now, else from the start
            start_frame = self.frame_playing()
        if self.session.settings.morph:
            if (
                self.session.blend_buffer is not None
                and self.session.blend_buffer[0] == self.session.settings
            ):
                self.start_playback(self.session.blend_buffer[1], "blend", 0.0)
            else:
                self.session.request_render(play=True)
            return
        self.stop()
        feed = self.live.start(
            self.session.engine,
            self.session.settings,
            heard=self.session.heard,
            start_frame=start_frame,
            loop=self.loop,
            iterations=self.session.render_options["iterations"],
        )
        self.start_playback(feed, "blend", 0.0)
        self.session.decode_throttle.interval_ms = LIVE_DRAG_DECODE_MS

    def set_recording(self, on: bool) -> None:
        """*Record*: capture the controls heard from now on (starting the blend when nothing
        plays), until it is switched off or playback stops; then ``live.performance`` holds
        it (``performance_recorded``)."""
        if on == self.live.recording:
            return
        if on and not self.live.running:
            self.play_blend()  # recorded from its first frame
        before = self.live.performance
        self.live.set_recording(on)
        self.session.recording_changed.emit(on)
        if on:
            self.session.status.emit("Recording: move the slider; ● Record again to stop.")
        elif self.live.performance is not before:
            self._recorded_performance()

    def _recorded_performance(self) -> None:
        seconds = self.live.performance.curve[-1][0]
        self.session.status.emit(
            f"Recorded {seconds:.1f} s: File → Export performance… writes what you heard."
        )
        self.session.performance_recorded.emit()

    def stop(self) -> None:
        self.session.lanes["preview"].cancel()
        self.play_when_ready = False
        self._stop_live()
        self.player.stop()
        self.idle_timer.start()
        self._update_cursor()

    def _stop_live(self) -> None:
        """End live playback; a recording ends with it (and becomes the performance)."""
        if self.live.recording:
            self.set_recording(False)
        self.live.stop()
        self.session.decode_throttle.interval_ms = DRAG_DECODE_MS

    def toggle_play(self) -> None:
        if self.player.playing or self.play_when_ready:
            self.stop()
        else:
            self.play_blend()

    def _update_cursor(self) -> None:
        if not self.playing:
            return
        if self.player.dropouts != self.reported_dropouts:
            self.reported_dropouts = self.player.dropouts
            if self.reported_dropouts:
                count = self.reported_dropouts
                self.session.notice.emit(
                    f"Playback had {count} dropout{'s' if count > 1 else ''}: the computer "
                    "could not keep up (choose Render → Fast, or close other programs)."
                )
        if self.live.error:
            self.session.problem.emit("Cannot play the blend", self.live.error)
            self.stop()
        if self.player.playing:
            live_position = self.live.position_s()
            if live_position is not None:
                self.session.cursor.emit(self.playing, live_position)
            else:
                self.session.cursor.emit(
                    self.playing, self._playing_offset_s + self.player.position_s
                )
            self.session.level.emit(self._output_level_db())
            return
        self.session.cursor.emit(self.playing, None)
        self.cursor_timer.stop()
        self.idle_timer.start()
        self._stop_live()  # it played to its end (Loop off)
        self._set_playing("")
        error = self.player.take_error()
        if error:
            self._audio_device_failed(error)

    def _output_level_db(self) -> float:
        """RMS level (dBFS) of the ~30 ms of the playing buffer before the play position."""
        buffer = self.player.buffer
        if isinstance(buffer, playback.LiveFeed):
            recent = buffer.recent(buffer.output_rate * CURSOR_MS // 1000)
        else:
            end = min(int(self.player.position_s * buffer.output_rate), buffer.filled)
            recent = buffer.samples[max(0, end - buffer.output_rate * CURSOR_MS // 1000) : end]
        power = float(np.mean(np.square(recent))) if len(recent) else 0.0
        return 10 * np.log10(max(power * self.volume**2, 1e-10))

    def _audio_device_failed(self, error: str) -> None:
        """Playback is off until restart (PortAudio lists devices once, at start)."""
        self.audio_problem = f"{error}; restart musinterp to play again"
        self.session.problem.emit(
            "Playback stopped",
            f"Playback stopped: {error}.\n\nCheck the output device or sound server and "
            "restart musinterp to play again. Export works without it.",
        )
