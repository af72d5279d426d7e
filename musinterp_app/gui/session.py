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

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from musinterp_app import sidecar
from musinterp_app.audio import mel
from musinterp_app.audio import player as playback
from musinterp_app.engine import (
    DEFAULT_EXCERPT_S,
    PAIR_SLOTS,
    RENDER_ITERATIONS,
    BlendSettings,
    Engine,
    ExportOptions,
    Settings,
    Track,
    load_track,
    with_excerpt,
)
from musinterp_app.gui import workers
from musinterp_app.gui.throttle import Throttle
from musinterp_app.gui.transport import DRAG_DECODE_MS, Transport
from musinterp_app.gui.workers import JobPool, Lane
from musinterp_app.model.onnx_vae import OnnxVAE

SETTLE_MS = 300  # keyboard steps: render once the keys have been still this long


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
        for slot, now, then in zip(PAIR_SLOTS, self.tracks, before.tracks, strict=True):
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


def mix_difference(engine: Engine, settings: BlendSettings, blended: np.ndarray) -> np.ndarray:
    """What the model changes: the blend minus the α-weighted mix of A's and B's log-mels
    (per frame when morphing), normalised units, ``[n_mels, frames]``."""
    frames = blended.shape[1]
    share_a, share_b = settings.shares(frames)
    a, b = (engine.tracks[slot].mel[:, :frames] for slot in PAIR_SLOTS)
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
    """Two tracks, one blend; see the module docstring. What plays, and how, is its
    :attr:`transport` (:class:`~musinterp_app.gui.transport.Transport`)."""

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
    recording_changed = Signal(bool)  # Record turned on or off (also by Stop and Esc)

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
        self.settings = BlendSettings()
        self.even_steps = True  # measured better: see Engine.even_steps and the README's Even steps
        self.excerpt_s = DEFAULT_EXCERPT_S
        self.autoplay = True  # play the blend as soon as a change settles
        self.render_options = {"iterations": RENDER_ITERATIONS, "level": "match", "rate": 0}
        self.blended_mel = None  # [n_mels, frames] of decoded_settings
        self.difference_mel = None  # [n_mels, frames]: see mix_difference
        self.decoded_settings: BlendSettings | None = None
        self.blend_buffer: tuple[BlendSettings, playback.PlaybackBuffer] | None = None
        self.transport = Transport(self, model.mel_config.sample_rate)
        self.undo_stack = QUndoStack(self)
        self._recorded = self.state()
        self.decode_throttle = Throttle(
            DRAG_DECODE_MS,
            self.request_decode,
            busy=lambda: self.lanes["decode"].busy,
            parent=self,
        )
        self.settle_debounce = Throttle(SETTLE_MS, self.settle, leading=False, parent=self)
        self._connect_lanes()

    def _connect_lanes(self) -> None:
        for slot in PAIR_SLOTS:
            lane = self.lanes[slot]
            lane.finished.connect(lambda track, s=slot: self._track_loaded(s, track))
            lane.failed.connect(lambda message, s=slot: self.track_failed.emit(s, message))
            lane.progress.connect(self.progress)
        self.lanes["decode"].finished.connect(self._blend_decoded)
        self.lanes["decode"].failed.connect(lambda m: self.problem.emit("Cannot blend", m))
        self.lanes["render"].progress.connect(self._render_progress)
        self.lanes["render"].finished.connect(self._render_finished)
        self.lanes["render"].failed.connect(lambda m: self.problem.emit("Cannot render", m))
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
    def tracks(self) -> dict[str, Track | None]:
        return {slot: self.engine.tracks[slot] for slot in PAIR_SLOTS}

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
        for slot, wanted, now in zip(PAIR_SLOTS, state.tracks, self.state().tracks, strict=True):
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
                load_track(
                    path,
                    model,
                    start_s=start_s,
                    excerpt_s=duration,
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
                with_excerpt(track, model, start_s=start_s, excerpt_s=duration, cancel=cancel),
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
        for slot in PAIR_SLOTS:
            self.lanes[slot].cancel()
        self.engine.tracks["A"], self.engine.tracks["B"] = b, a
        for slot in PAIR_SLOTS:  # both swapped first: no listener sees one track in both slots
            self.track_changed.emit(slot)
        self.blend_buffer = None
        self._heard_changed(PAIR_SLOTS)
        self.request_decode()
        self.record()

    def _track_loaded(self, slot: str, result: tuple[OnnxVAE, Track]) -> None:
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
        excerpt = f"excerpt {track.start_s:.1f}–{track.start_s + track.excerpt_s:.1f} s"
        self.status.emit(f"{slot}: {track.name}, {excerpt}.")
        if track.note:
            self.notice.emit(f"{slot}: {track.note}.")
        same_file = previous is not None and previous.path == track.path
        self._heard_changed((slot,), same_file=same_file)
        self.request_decode()
        self.record()
        self.transport.open_audio()

    # ----- blending ----------------------------------------------------------------------------
    def set_alpha(self, alpha: float, *, dragging: bool = False) -> None:
        """α moved (the slider, its box, a key), every other setting kept as it is: the
        spectrogram follows at once (throttled); the audio follows when α settles (at once
        for a click, after a pause for keys, on release for a drag)."""
        settings = replace(self.settings, alpha=alpha)
        if settings == self.settings:
            return
        self.settings = settings
        if self.transport.playing == "blend":
            self.transport.live.set_target(alpha)  # heard within the live renderer's look-ahead
        self.transport.open_audio()
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
        self.transport.open_audio()
        renderer = self.transport.live.renderer
        if self.transport.playing == "blend" and self.transport.live.running:
            if settings.morph:  # a morph is rendered whole: it replaces the live blend
                self.request_render(play=True)
            else:
                self._send_live_settings(settings)
        elif (
            self.transport.playing == "pad" and renderer is not None
        ):  # the pad takes the options too
            options = {name: getattr(settings, name) for name in ("mode", "keep_detail")}
            self.transport.live.set_settings(replace(renderer.settings, **options))
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
        play = (
            (autoplay and self.autoplay) or self.transport.playing == "blend"
        ) and not self.transport.audio_problem
        if self.settings.morph:
            if self.blend_buffer is None or self.blend_buffer[0] != self.settings:
                self.request_render(play=play)
        elif play and not self.transport.live.running:
            self.transport.play_blend()
        self.record()

    def _send_live_settings(self, settings: BlendSettings) -> None:
        """New options to the live renderer, through even steps (measured on a worker)."""
        engine = self.engine
        self.pool.start(lambda: self.transport.live.set_settings(self.heard(engine, settings)))

    def request_decode(self) -> None:
        if not self.ready:
            return
        settings, engine = self.settings, self.transport.live.decoding_engine(self.engine)

        def decode(_cancel, _progress):
            heard = self.heard(engine, settings)
            blended = engine.blend_mel(heard)
            return settings, blended, mix_difference(engine, heard, blended)

        self.lanes["decode"].submit(decode)

    def _blend_decoded(self, result) -> None:
        self.decoded_settings, self.blended_mel, self.difference_mel = result
        self.blend_decoded.emit()
        self.decode_throttle.ready()

    def set_render_option(self, name: str, value) -> None:
        """A Render menu choice; a new quality re-renders the blend that is playing."""
        changed = self.render_options.get(name) != value
        self.render_options[name] = value
        if name == "iterations" and changed and self.blend_buffer is not None:
            self.blend_buffer = None  # rendered at the other quality
            if self.transport.playing == "blend":
                self.request_render(play=True)

    def request_render(self, *, play: bool) -> None:
        """Render the current blend's audio in the background (playing from the first chunk)."""
        if not self.ready:
            return
        settings, engine = self.settings, self.engine
        if play or self.transport.playing == "blend":
            self.transport.stop()  # never the old blend's sound under the new one's picture
        buffer = self.transport.player.new_buffer(engine.blend_frames * engine.config.hop_length)
        self.blend_buffer = (settings, buffer)
        self.transport.play_when_ready = play
        iterations = self.render_options["iterations"]

        def render(cancel, progress):
            for chunk in engine.render_stream(
                self.heard(engine, settings), n_iter=iterations, cancel=cancel
            ):
                buffer.write(chunk)  # then progress: playback starts on samples, never before
                progress(buffer.filled, len(buffer.samples))
            return buffer

        self.lanes["render"].submit(render)
        self.status.emit(f"Rendering the {self._what(settings)}…")

    def heard(self, engine: Engine, settings: Settings) -> Settings:
        """What the slider's settings sound as: with even steps (when on), α re-spaced
        so equal slider steps change the sound equally (measured once per pair of tracks,
        on a worker: call it there). The pad's settings sound as they are."""
        if self.even_steps and isinstance(settings, BlendSettings):
            return engine.even_steps(settings)
        return settings

    @staticmethod
    def _what(settings: BlendSettings) -> str:
        return "morph" if settings.morph else "blend"

    def _render_progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)
        if self.transport.play_when_ready and self.blend_buffer is not None:
            self.transport.play_when_ready = False
            self.transport.start_playback(self.blend_buffer[1], "blend", 0.0)

    def _render_finished(self, _buffer) -> None:
        self.work_ended.emit()
        what = self._what(self.blend_buffer[0]) if self.blend_buffer else "blend"
        self.status.emit(f"{what.capitalize()} ready.")

    def _heard_changed(self, slots: tuple[str, ...], *, same_file: bool = False) -> None:
        """What ``slots`` sound like changed: re-render a playing blend, stop a playing track
        (a whole track played from somewhere goes on when only its excerpt moved)."""
        if self.transport.playing == "blend":
            at = self.transport.frame_playing()
            self.transport.stop()
            if self.ready and not self.transport.audio_problem:
                self.transport.play_blend(start_frame=at)
        elif self.transport.playing == "pad" or (
            self.transport.playing in slots and not (same_file and self.transport.whole_track)
        ):
            self.transport.stop()

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
        if not self.ready or (performance and self.transport.live.performance is None):
            return
        settings = replace(self.settings, morph=True) if morph else self.settings
        if performance:
            settings = self.transport.live.performance
        engine = self.engine
        options = self.export_options(sample_format)

        def work(cancel, progress):  # the audio and its NAME.musinterp.json
            heard = self.heard(engine, settings)
            return engine.export(path, heard, options, cancel=cancel, progress=progress)

        self.status.emit(f"Exporting the {self._what(settings)} to {Path(path).name}…")
        self.lanes["export"].submit(work)

    def export_options(self, sample_format: str) -> ExportOptions:
        """How an export from the window is rendered: the Render menu's quality, level and
        rate, and ``sample_format``."""
        return ExportOptions(
            n_iter=self.render_options["iterations"],
            level=self.render_options["level"],
            output_rate=self.export_rate(),
            sample_format=sample_format,
        )

    def export_rate(self) -> int:
        """The rate exports are written at (Hz): the Render menu's choice, where 0 means the
        sources' (the highest of A's and B's) and −1 the model's."""
        chosen = int(self.render_options["rate"])
        if chosen == -1:
            return self.engine.config.sample_rate
        if chosen == 0:
            loaded = [t.info.sample_rate for t in self.tracks.values() if t is not None]
            return max(loaded, default=self.engine.config.sample_rate)
        return chosen

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
        self.transport.reopen(switched.config.sample_rate)
        self.transport.live.release_models()
        self.adopt(switched)
        self.transport.open_audio()
        self.model_changed.emit()
        self.status.emit(f"Model “{switched.model.info.folder.name}” loaded.")

    def adopt(self, replacement: Engine) -> None:
        """Use ``replacement`` from now on: this engine's tracks re-encoded by another model
        (``Engine.with_model``) or fitted to A's tempo and key (``Engine.synced``)."""
        self.transport.stop()
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
        if self.transport.playing:
            busy.append("playback")
        for lane in self.lanes.values():
            lane.cancel()
        self.decode_throttle.cancel()
        self.settle_debounce.cancel()
        self.transport.stop()
        self.work_ended.emit()
        self.cancelled.emit()
        return busy

    def close(self) -> None:
        self.cancel_all()
        self.pool.shutdown()  # the jobs were cancelled: they stop at their next step
        self.transport.close()  # after the pool: a stream being opened there is closed too
