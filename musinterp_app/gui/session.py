"""The window's session: the engine, its job lanes, the player and what is playing.

A ``QObject`` between the engine and the window (Sonic Visualiser's rule for
its ``MainWindowBase``): it owns the state and the logic, says what happened
through signals and never opens a dialog; the window is layout, menus,
dialogs and settings. Everything heavy runs in :class:`Lane` jobs ("latest
wins"); results come back on the UI thread tagged with their request, stale
ones are dropped.

What is heard always matches what is shown: a change to a track, an
excerpt, the blend settings or the model re-renders the blend that is playing
(or stops a track that is playing), never leaves the old sound looping.
Changes that settle are recorded on an undo stack as :class:`SessionState` s.
"""

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from musinterp_app import engine, sidecar
from musinterp_app.audio import io, mel
from musinterp_app.audio import player as playback
from musinterp_app.engine import BlendSettings, Engine, Track
from musinterp_app.gui import workers
from musinterp_app.gui.live_control import LiveControl
from musinterp_app.gui.throttle import Throttle
from musinterp_app.gui.workers import JobPool, Lane
from musinterp_app.model.onnx_vae import OnnxVAE

DRAG_DECODE_MS = 33  # ~30 Hz while the slider is dragged
# While the blend plays live the sound comes first: the picture follows at ~10 Hz, leaving
# the cores to the live renderer (at 30 Hz its 5-s decodes took a core and it dropped out).
LIVE_DRAG_DECODE_MS = 100
PLAY_FROM_S = 120.0  # "play from here" plays this much of the track at most
SETTLE_MS = 300  # keyboard steps: render once the keys have been still this long
CURSOR_MS = 33
IDLE_RELEASE_MS = 60_000  # the output stream is closed after a minute of silence
SLOTS = ("A", "B")


@dataclass(frozen=True)
class Excerpt:
    """Where a track comes from: its file and the start of its excerpt (seconds)."""

    path: str
    start_s: float


@dataclass(frozen=True)
class SessionState:
    """What undo/redo and the next start restore: tracks, excerpt length and settings."""

    tracks: tuple[Excerpt | None, Excerpt | None]
    excerpt_s: float
    settings: BlendSettings

    def describe_change_from(self, before: "SessionState") -> str:
        """The change from ``before`` to this state, in a few words (the Edit menu's)."""
        if self.tracks == before.tracks[::-1] and self.tracks != before.tracks:
            return "swap A ↔ B"
        for slot, now, then in zip(SLOTS, self.tracks, before.tracks, strict=True):
            if now != then:
                if now is not None and then is not None and now.path == then.path:
                    return f"move the excerpt of {slot}"
                return f"open {Path(now.path).name if now else 'nothing'} in {slot}"
        if self.excerpt_s != before.excerpt_s:
            return f"excerpt length {self.excerpt_s:g} s"
        new, old = self.settings, before.settings
        if new.alpha != old.alpha:
            return f"α {old.alpha:.2f} → {new.alpha:.2f}"
        if new.morph != old.morph:
            return "morph over time" if new.morph else "blend at one α"
        if new.mode != old.mode:
            return f"{'spherical' if new.mode == 'slerp' else 'linear'} interpolation"
        return "keep detail" if new.keep_detail else "no added detail"


def mix_difference(blender: Engine, settings: BlendSettings, blended: np.ndarray) -> np.ndarray:
    """What the model changes: the blend minus the α-weighted mix of A's and B's log-mels
    (per frame when morphing), normalised units, ``[n_mels, frames]``."""
    frames = blended.shape[1]
    share_a, share_b = settings.shares(frames)
    a, b = (blender.tracks[slot].mel[:, :frames] for slot in SLOTS)
    return blended - (share_a * a + share_b * b)


class _Change(QUndoCommand):
    """One recorded change: undo goes back to ``before``, redo forward to ``after``."""

    def __init__(self, session: "Session", before: SessionState, after: SessionState) -> None:
        super().__init__(after.describe_change_from(before))
        self.session, self.before, self.after = session, before, after
        self._done = True  # pushed after it happened: the first redo does nothing

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self.session.apply_state(self.after)

    def undo(self) -> None:
        self.session.apply_state(self.before)


class Session(QObject):
    """Two tracks, one blend, one player; see the module docstring."""

    track_loading = Signal(str, str)  # slot, file name
    track_changed = Signal(str)  # slot: loaded, excerpt moved, swapped or re-encoded
    track_failed = Signal(str, str)  # slot, message (the previous track stays)
    blend_decoded = Signal()  # blended_mel holds the newest decode
    settings_changed = Signal()  # the blend settings or excerpt length (e.g. by undo)
    model_changed = Signal()
    status = Signal(str)  # a short sentence for the status bar
    notice = Signal(str)  # something the user should know that is no error (status bar)
    problem = Signal(str, str)  # title, message: something failed (the window shows it)
    progress = Signal(int, int)  # done, total of the work in progress
    work_ended = Signal()
    playing_changed = Signal(str)  # what plays now: "A", "B", "blend", "pad" or "" (stopped)
    cursor = Signal(str, object)  # source, seconds (None: hide the cursor)
    level = Signal(float)  # output level of what plays, dBFS (RMS over the last ~30 ms)
    exported = Signal(str)  # path
    cancelled = Signal()  # Esc: every lane cancelled (panels reset what they were showing)
    playback_started = Signal()
    performance_recorded = Signal()  # live.performance holds what Record captured

    def __init__(self, model: OnnxVAE, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = Engine(model)
        self.pool = JobPool(max_workers=4)
        # Build what the first render needs (mel inverse, FFT plans) now, off the UI thread.
        self.pool.start(lambda: mel.prepare(model.mel_config))
        self.lanes = {
            name: Lane(self.pool, self)
            for name in ("A", "B", "decode", "render", "preview", "export", "model")
        }
        self.loop, self.volume = False, 1.0
        self.player = self._new_player(model.mel_config.sample_rate)
        self.live = LiveControl(self.player)  # the blend played live (α follows the slider)
        self.audio_problem = playback.unavailable_reason()  # '' when playback works
        self.settings = BlendSettings()
        self.even_steps = True  # measured better: see Engine.even_steps and the README's Even steps
        self.excerpt_s = engine.DEFAULT_EXCERPT_S
        self.autoplay = True  # play the blend as soon as a change settles
        self.render_options = {"iterations": engine.RENDER_ITERATIONS, "level": "match", "rate": 0}
        self.blended_mel = None  # [n_mels, frames] of decoded_settings
        self.difference_mel = None  # [n_mels, frames]: see mix_difference
        self.decoded_settings: BlendSettings | None = None
        self.blend_buffer: tuple[BlendSettings, playback.PlaybackBuffer] | None = None
        self.playing = ""  # "A", "B", "blend", "pad" (the pad's blend) or ""
        self._playing_offset_s = 0.0
        self._play_when_ready = False
        self._preview: tuple[str, float, bool] | None = None  # (slot, offset, whole track)
        self._whole_track = False  # what plays is a whole track (play_from), not its excerpt
        self.reported_dropouts = 0
        self._audio_opening = False  # a worker is opening the output stream (open_audio)
        self.undo_stack = QUndoStack(self)
        self._recorded = self.state()
        self.decode_throttle = Throttle(
            DRAG_DECODE_MS,
            self.request_decode,
            busy=lambda: self.lanes["decode"].busy,
            parent=self,
        )
        self.settle_debounce = Throttle(SETTLE_MS, self.settle, leading=False, parent=self)
        self.cursor_timer = QTimer(self, interval=CURSOR_MS, timeout=self._update_cursor)
        self.idle_timer = QTimer(
            self, interval=IDLE_RELEASE_MS, singleShot=True, timeout=self._release_idle_stream
        )
        self._connect_lanes()

    def _connect_lanes(self) -> None:
        for slot in SLOTS:
            lane = self.lanes[slot]
            lane.finished.connect(lambda track, s=slot: self._track_loaded(s, track))
            lane.failed.connect(lambda message, s=slot: self.track_failed.emit(s, message))
            lane.progress.connect(self.progress)
        self.lanes["decode"].finished.connect(self._blend_decoded)
        self.lanes["decode"].failed.connect(lambda m: self.problem.emit("Cannot blend", m))
        self.lanes["render"].progress.connect(self._render_progress)
        self.lanes["render"].finished.connect(self._render_finished)
        self.lanes["render"].failed.connect(lambda m: self.problem.emit("Cannot render", m))
        self.lanes["preview"].finished.connect(self._preview_ready)
        self.lanes["export"].progress.connect(self.progress)
        self.lanes["export"].finished.connect(self._exported)
        self.lanes["export"].failed.connect(lambda m: self.problem.emit("Export failed", m))
        self.lanes["model"].finished.connect(self._model_loaded)
        self.lanes["model"].failed.connect(
            lambda m: self.problem.emit(
                "Cannot load model",
                f"{m}\n\nThe previous model is still in use. Choose a folder made by "
                "“musinterp-train export” (it holds encoder.onnx, decoder.onnx and MODEL.md).",
            )
        )

    # ----- state --------------------------------------------------------------------------------
    @property
    def tracks(self) -> dict[str, engine.Track | None]:
        return {slot: self.engine.tracks[slot] for slot in SLOTS}

    @property
    def ready(self) -> bool:
        return all(self.tracks.values())

    @property
    def busy(self) -> bool:
        """A job runs, or a throttled decode or a settling render is still to come."""
        waiting = self.decode_throttle.pending or self.settle_debounce.pending
        return waiting or any(lane.busy for lane in self.lanes.values())

    def state(self) -> SessionState:
        tracks = tuple(
            None if track is None else Excerpt(str(track.path), round(track.start_s, 3))
            for track in self.tracks.values()
        )
        return SessionState(tracks, self.excerpt_s, self.settings)

    def record(self) -> None:
        """Put the change since the last record on the undo stack (once loads have landed)."""
        if self.lanes["A"].busy or self.lanes["B"].busy:
            return
        now = self.state()
        if now != self._recorded:
            self.undo_stack.push(_Change(self, self._recorded, now))
            self._recorded = now

    def apply_state(self, state: SessionState) -> None:
        """Go to ``state`` (undo, redo, the next start): reloads only what differs."""
        self._recorded = state
        current = self.state()
        if state.tracks == current.tracks[::-1] and state.tracks != current.tracks:
            self.swap()
        self.set_excerpt_length(state.excerpt_s, record=False)
        for slot, wanted, now in zip(SLOTS, state.tracks, self.state().tracks, strict=True):
            if wanted is not None and wanted != now:
                if now is not None and wanted.path == now.path:
                    self.move_excerpt(slot, wanted.start_s)
                else:
                    self.load(slot, wanted.path, start_s=wanted.start_s)
        if state.settings != self.settings:
            self.settings = state.settings
            self.settings_changed.emit()
            self.settle(autoplay=False)  # an undo is no slider release

    # ----- tracks ------------------------------------------------------------------------------
    def load(self, slot: str, path: str, *, start_s: float = 0.0) -> None:
        """Load ``path`` into ``slot`` in the background; the old track stays until it works."""
        model, duration = self.engine.model, self.excerpt_s
        self.track_loading.emit(slot, Path(path).name)
        self.lanes[slot].submit(
            lambda cancel, progress: (
                model,
                engine.load_track(
                    path,
                    model,
                    start_s=start_s,
                    duration_s=duration,
                    cancel=cancel,
                    progress=progress,
                ),
            )
        )

    def move_excerpt(self, slot: str, start_s: float) -> None:
        """Analyse another excerpt of the track in ``slot`` (seconds from its start)."""
        track, model, duration = self.engine.tracks[slot], self.engine.model, self.excerpt_s
        if track is None:
            return
        self.status.emit(f"Analysing the new excerpt of {slot}…")
        self.lanes[slot].submit(
            lambda cancel, _progress: (
                model,
                engine.with_excerpt(
                    track, model, start_s=start_s, duration_s=duration, cancel=cancel
                ),
            )
        )

    def set_excerpt_length(self, seconds: float, *, record: bool = True) -> None:
        """A new excerpt length: both tracks are re-analysed from their starts."""
        if seconds == self.excerpt_s:
            return
        self.excerpt_s = seconds
        self.settings_changed.emit()
        for slot, track in self.tracks.items():
            if track is not None:
                self.move_excerpt(slot, track.start_s)
        if record and not self.busy:
            self.record()

    def swap(self) -> None:
        """Track A becomes B and B becomes A (no file is read again)."""
        a, b = self.tracks["A"], self.tracks["B"]
        for slot in SLOTS:
            self.lanes[slot].cancel()
        self.engine.tracks["A"], self.engine.tracks["B"] = b, a
        for slot in SLOTS:  # both swapped first: no listener sees one track in both slots
            self.track_changed.emit(slot)
        self.blend_buffer = None
        self._heard_changed(SLOTS)
        self.request_decode()
        self.record()

    def _track_loaded(self, slot: str, result: tuple[OnnxVAE, engine.Track]) -> None:
        self.work_ended.emit()
        model, track = result
        if model is not self.engine.model:  # the model was switched while this one loaded
            self.engine.set_track(slot, track)
            self.move_excerpt(slot, track.start_s)
            return
        previous = self.engine.tracks[slot]
        self.engine.set_track(slot, track)
        self.blend_buffer = None
        self.track_changed.emit(slot)
        excerpt = f"excerpt {track.start_s:.1f}–{track.start_s + track.duration_s:.1f} s"
        self.status.emit(f"{slot}: {track.name}, {excerpt}.")
        if track.note:
            self.notice.emit(f"{slot}: {track.note}.")
        same_file = previous is not None and previous.path == track.path
        self._heard_changed((slot,), same_file=same_file)
        self.request_decode()
        self.record()
        self.open_audio()

    # ----- blending ----------------------------------------------------------------------------
    def set_alpha(self, alpha: float, *, dragging: bool = False) -> None:
        """α moved (the slider, its box, a key), every other setting kept as it is: the
        spectrogram follows at once (throttled); the audio follows when α settles (at once
        for a click, after a pause for keys, on release for a drag)."""
        settings = replace(self.settings, alpha=alpha)
        if settings == self.settings:
            return
        self.settings = settings
        if self.playing == "blend":
            self.live.set_target(alpha)  # heard within the live renderer's look-ahead
        self.open_audio()
        self.decode_throttle.call()
        if not dragging:
            self.settle_debounce.call()

    def set_options(self, **changes) -> None:
        """New options (``mode``, ``morph``, ``keep_detail``), α and the rest kept: decoded
        and rendered at once; a blend that plays goes on with them, but nothing starts to
        play (*Play on release* is the slider's)."""
        settings = replace(self.settings, **changes)
        if settings == self.settings:
            return
        self.settings = settings
        self.open_audio()
        if self.live.running:
            if settings.morph:  # a morph is rendered whole: it replaces the live blend
                self.request_render(play=True)
            else:
                self._send_live_settings(settings)
        self.settle(autoplay=False)

    def settle(self, *, autoplay: bool = True) -> None:
        """The settings stopped changing: decode now, record the change, and play. A blend
        playing live already follows; a stopped one starts with ``autoplay`` (the slider
        was let go or its keys rested) when *Play on release* is on. A morph is rendered
        whole (and played when a blend was playing, or with ``autoplay``)."""
        self.settle_debounce.cancel()
        if self.decoded_settings != self.settings:
            self.decode_throttle.cancel()
            self.request_decode()
        play = ((autoplay and self.autoplay) or self.playing == "blend") and not self.audio_problem
        if self.settings.morph:
            if self.blend_buffer is None or self.blend_buffer[0] != self.settings:
                self.request_render(play=play)
        elif play and not self.live.running:
            self.play_blend()
        self.record()

    def _send_live_settings(self, settings: BlendSettings) -> None:
        """New options to the live renderer, through even steps (measured on a worker)."""
        blender = self.engine
        self.pool.start(lambda: self.live.set_settings(self.heard(blender, settings)))

    def request_decode(self) -> None:
        if not self.ready:
            return
        settings, blender = self.settings, self.live.decoding_engine(self.engine)

        def decode(_cancel, _progress):
            heard = self.heard(blender, settings)
            blended = blender.blend_mel(heard)
            return settings, blended, mix_difference(blender, heard, blended)

        self.lanes["decode"].submit(decode)

    def _blend_decoded(self, result) -> None:
        self.decoded_settings, self.blended_mel, self.difference_mel = result
        self.blend_decoded.emit()
        self.decode_throttle.ready()

    def request_render(self, *, play: bool) -> None:
        """Render the current blend's audio in the background (playing from the first chunk)."""
        if not self.ready:
            return
        settings, blender = self.settings, self.engine
        if play or self.playing == "blend":
            self.stop()  # never the old blend's sound under the new one's picture
        buffer = self.player.new_buffer(blender.blend_frames * blender.config.hop_length)
        self.blend_buffer = (settings, buffer)
        self._play_when_ready = play
        iterations = self.render_options["iterations"]

        def render(cancel, progress):
            for chunk in blender.render_stream(
                self.heard(blender, settings), n_iter=iterations, cancel=cancel
            ):
                buffer.write(chunk)  # then progress: playback starts on samples, never before
                progress(buffer.filled, len(buffer.samples))
            return buffer

        self.lanes["render"].submit(render)
        self.status.emit(f"Rendering the {self._what(settings)}…")

    def heard(self, blender: Engine, settings: engine.Settings) -> engine.Settings:
        """What the slider's settings sound as: with even steps (when on), α re-spaced
        so equal slider steps change the sound equally (measured once per pair of tracks,
        on a worker: call it there). The pad's settings sound as they are."""
        if self.even_steps and isinstance(settings, BlendSettings):
            return blender.even_steps(settings)
        return settings

    @staticmethod
    def _what(settings: BlendSettings) -> str:
        return "morph" if settings.morph else "blend"

    def _render_progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)
        if self._play_when_ready and self.blend_buffer is not None:
            self._play_when_ready = False
            self._start_playback(self.blend_buffer[1], "blend", 0.0)

    def _render_finished(self, _buffer) -> None:
        self.work_ended.emit()
        what = self._what(self.blend_buffer[0]) if self.blend_buffer else "blend"
        self.status.emit(f"{what.capitalize()} ready.")

    def _heard_changed(self, slots: tuple[str, ...], *, same_file: bool = False) -> None:
        """What ``slots`` sound like changed: re-render a playing blend, stop a playing track
        (a whole track played from somewhere goes on when only its excerpt moved)."""
        if self.playing == "blend":
            at = self.live.excerpt_frame_now()
            self.stop()
            if self.ready and not self.audio_problem:
                self.play_blend(start_frame=at)
        elif self.playing == "pad" or (
            self.playing in slots and not (same_file and self._whole_track)
        ):
            self.stop()

    # ----- playback ----------------------------------------------------------------------------
    def open_audio(self) -> None:
        """Open the output stream in the background (silent until something plays), so that
        the blend a slider release renders sounds as soon as its first chunk is ready."""
        player = self.player
        if self.ready and not player.stream_open and not self.audio_problem:
            if not self._audio_opening:
                self._audio_opening = True
                self.pool.start(lambda: self._start_quietly(player))
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
        if not (self.player.playing or self._play_when_ready):
            self.player.release()

    def _new_player(self, sample_rate: int) -> playback.Player:
        player = playback.Player(sample_rate)
        player.loop, player.volume = self.loop, self.volume
        return player

    def set_render_option(self, name: str, value) -> None:
        """A Render menu choice; a new quality re-renders the blend that is playing."""
        changed = self.render_options.get(name) != value
        self.render_options[name] = value
        if name == "iterations" and changed and self.blend_buffer is not None:
            self.blend_buffer = None  # rendered at the other quality
            if self.playing == "blend":
                self.request_render(play=True)

    def set_loop(self, on: bool) -> None:
        self.loop = self.player.loop = on
        self.live.set_loop(on)

    def set_volume(self, gain: float) -> None:
        """Playback gain, 0 … 1 (exports are not affected)."""
        self.volume = self.player.volume = gain

    def _start_playback(
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
            self.problem.emit("Cannot play", str(error))
            return
        self._set_playing(source, offset_s)
        self._whole_track = whole
        self.reported_dropouts = 0
        self.cursor_timer.start()
        self.playback_started.emit()

    def _set_playing(self, source: str, offset_s: float = 0.0) -> None:
        previous = self.playing
        self.playing, self._playing_offset_s = source, offset_s
        if previous and previous != source:
            self.cursor.emit(previous, None)
        if previous != source:
            self.playing_changed.emit(source)

    def excerpt_position_s(self) -> float:
        """Where in the excerpt the blend or track playing now is (seconds; 0 when nothing
        plays, or a whole track does)."""
        live = self.live.position_s()
        if live is not None:
            return live
        if self.playing in SLOTS and not self._whole_track and self.player.playing:
            return self.player.position_s
        return 0.0

    def play_track(self, slot: str) -> None:
        """Play a track's excerpt (resampled to the device off the UI thread), from where
        the blend or the other track plays now."""
        track, player = self.engine.tracks[slot], self.player
        if track is not None and not self.audio_problem:
            at_s = self.excerpt_position_s()  # A / B / blend switch at the same place
            self._preview = (slot, track.start_s, False, at_s)
            self.lanes["preview"].submit(lambda _cancel, _progress: player.buffer_of(track.samples))

    def play_from(self, slot: str, start_s: float) -> None:
        """Play the whole track in ``slot`` from ``start_s`` (``PLAY_FROM_S`` at most, read
        off the UI thread), the cursor on its overview."""
        track, player = self.engine.tracks[slot], self.player
        if track is None or self.audio_problem:
            return
        rate = self.engine.config.sample_rate
        self._preview = (slot, start_s, True, 0.0)
        self.lanes["preview"].submit(
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
        if not self.ready or self.audio_problem:
            return
        if self.playing == "pad" and self.live.running:
            self.move_puck(settings.x, settings.y)
            return
        hop_s = self.engine.config.hop_length / self.engine.config.sample_rate
        at = round(self.excerpt_position_s() / hop_s) if self.playing else 0
        self.stop()
        feed = self.live.start(
            self.engine,
            settings,
            heard=self.heard,
            start_frame=at,
            loop=self.loop,
            iterations=self.render_options["iterations"],
        )
        self._start_playback(feed, "pad", 0.0)

    def move_puck(self, x: float, y: float) -> None:
        """The pad's puck moved: a pad blend playing live follows it."""
        if self.playing == "pad":
            self.live.set_target(x, y)

    def play_pad(self, audio: np.ndarray) -> None:
        """Play the pad's rendered morph along a drawn path (model-rate samples), its cursor
        on the blend view."""
        if not self.audio_problem:
            self.stop()
            self._start_playback(self.player.buffer_of(audio), "pad", 0.0)

    def _preview_ready(self, buffer: playback.PlaybackBuffer) -> None:
        if self._preview is not None:
            self._start_playback(buffer, *self._preview)

    def play_blend(self, *, start_frame: int | None = None) -> None:
        """Play the blend from excerpt frame ``start_frame`` (default: where A or B plays
        now, else the start): live (α follows the slider while it plays), or a morph
        rendered whole."""
        if not self.ready or self.audio_problem:
            return
        if start_frame is None:  # from where A or B plays now, else from the start
            hop_s = self.engine.config.hop_length / self.engine.config.sample_rate
            start_frame = round(self.excerpt_position_s() / hop_s) if self.playing else 0
        if self.settings.morph:
            if self.blend_buffer is not None and self.blend_buffer[0] == self.settings:
                self._start_playback(self.blend_buffer[1], "blend", 0.0)
            else:
                self.request_render(play=True)
            return
        self.stop()
        feed = self.live.start(
            self.engine,
            self.settings,
            heard=self.heard,
            start_frame=start_frame,
            loop=self.loop,
            iterations=self.render_options["iterations"],
        )
        self._start_playback(feed, "blend", 0.0)
        self.decode_throttle.interval_ms = LIVE_DRAG_DECODE_MS

    def set_recording(self, on: bool) -> None:
        """*Record*: capture the α heard from now on, until it is switched off (or playback
        stops); then ``live.performance`` holds it (``performance_recorded``)."""
        before = self.live.performance
        self.live.set_recording(on)
        if self.live.performance is not before:
            self.performance_recorded.emit()

    def stop(self) -> None:
        self.lanes["preview"].cancel()
        self._play_when_ready = False
        self._stop_live()
        self.player.stop()
        self.idle_timer.start()
        self._update_cursor()

    def _stop_live(self) -> None:
        """End live playback (what Record captured becomes the performance)."""
        before = self.live.performance
        self.live.stop()
        self.decode_throttle.interval_ms = DRAG_DECODE_MS
        if self.live.performance is not before:
            self.performance_recorded.emit()

    def toggle_play(self) -> None:
        if self.player.playing or self._play_when_ready:
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
                self.notice.emit(
                    f"Playback had {count} dropout{'s' if count > 1 else ''}: the computer "
                    "could not keep up (choose Render → Fast, or close other programs)."
                )
        if self.live.error:
            self.problem.emit("Cannot play the blend", self.live.error)
            self.stop()
        if self.player.playing:
            live_position = self.live.position_s()
            if live_position is not None:
                self.cursor.emit(self.playing, live_position)
            else:
                self.cursor.emit(self.playing, self._playing_offset_s + self.player.position_s)
            self.level.emit(self._output_level_db())
            return
        self.cursor.emit(self.playing, None)
        self.cursor_timer.stop()
        self.idle_timer.start()
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
        self.problem.emit(
            "Playback stopped",
            f"Playback stopped: {error}.\n\nCheck the output device or sound server and "
            "restart musinterp to play again. Export works without it.",
        )

    # ----- export ------------------------------------------------------------------------------
    def export_to(
        self,
        path: str,
        *,
        morph: bool = False,
        sample_format: str = "16",
        performance: bool = False,
    ) -> None:
        """Render the blend (or a morph with the same options, or the performance Record
        captured) fully and write it, in the background: stereo when a source is, at the
        level, rate and quality chosen."""
        if not self.ready or (performance and self.live.performance is None):
            return
        settings = replace(self.settings, morph=True) if morph else self.settings
        if performance:
            settings = self.live.performance
        blender = self.engine
        options = engine.ExportOptions(
            n_iter=self.render_options["iterations"],
            level=self.render_options["level"],
            output_rate=self.render_options["rate"] or None,
            sample_format=sample_format,
        )

        def work(cancel, progress):  # the audio and its NAME.musinterp.json
            heard = self.heard(blender, settings)
            return blender.export(path, heard, options, cancel=cancel, progress=progress)

        self.status.emit(f"Exporting the {self._what(settings)} to {Path(path).name}…")
        self.lanes["export"].submit(work)

    def _exported(self, path) -> None:
        self.work_ended.emit()
        self.status.emit(f"Exported {path} (and {sidecar.path_for(path).name}: how it was made)")
        self.exported.emit(str(path))

    # ----- model -------------------------------------------------------------------------------
    def load_model(self, folder: str) -> None:
        """Load a model folder in the background; the current one stays if it is refused."""
        current = self.engine

        def work(cancel, _progress):
            return current.with_model(OnnxVAE(folder), cancel=cancel)

        self.status.emit(f"Loading the model in {Path(folder).name}…")
        self.lanes["model"].submit(work)

    def _model_loaded(self, switched: Engine) -> None:
        self.stop()
        self.player.close()
        self.player = self.live.player = self._new_player(switched.config.sample_rate)
        self.adopt(switched)
        self.open_audio()
        self.model_changed.emit()
        self.status.emit(f"Model “{switched.model.info.folder.name}” loaded.")

    def adopt(self, replacement: Engine) -> None:
        """Use ``replacement`` from now on: this engine's tracks re-encoded by another model
        (``Engine.with_model``) or fitted to A's tempo and key (``Engine.synced``)."""
        self.stop()
        self.engine = replacement
        self.blend_buffer = None
        self.blended_mel = self.difference_mel = self.decoded_settings = None
        for slot, track in self.tracks.items():
            if track is not None:
                self.track_changed.emit(slot)
        self.request_decode()

    # ----- ending ------------------------------------------------------------------------------
    def new_lanes(self, names: tuple[str, ...], parent: QObject, *, prefix: str) -> dict[str, Lane]:
        """Lanes for a panel's jobs (the pad's, the tempo and key panel's), kept among the
        session's as ``"PREFIX NAME"``: Esc (:meth:`cancel_all`) cancels them too."""
        lanes = workers.new_lanes(self.pool, names, parent)
        self.lanes.update({f"{prefix} {name}": lane for name, lane in lanes.items()})
        return lanes

    def set_corner(self, slot: str, track: Track) -> None:
        """A pad corner's track (C or D) loaded: it goes into the engine through here."""
        self.engine.set_track(slot, track)

    def cancel_all(self) -> list[str]:
        """Cancel every background job and stop playback; the lanes that were busy."""
        busy = [name for name, lane in self.lanes.items() if lane.busy]
        for lane in self.lanes.values():
            lane.cancel()
        self.decode_throttle.cancel()
        self.settle_debounce.cancel()
        self.stop()
        self.work_ended.emit()
        self.cancelled.emit()
        return busy

    def close(self) -> None:
        self.cancel_all()
        self.cursor_timer.stop()
        self.idle_timer.stop()
        self.pool.shutdown()  # the jobs were cancelled: they stop at their next step
        self.player.close()  # after the pool: a stream being opened there is closed too
