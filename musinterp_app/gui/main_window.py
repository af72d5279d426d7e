"""The window: two tracks, the blend, the slider, transport and export.

The UI thread only touches widgets. Loading, decoding, rendering and
exporting run in :class:`Lane` jobs ("latest wins"); results come back as
signals tagged with their request, stale ones are dropped. While the slider
is dragged, only the blended spectrogram is decoded (throttled to ~30 Hz);
when it settles, the audio is rendered in the background and, if wanted,
played as soon as the first chunk is ready.
"""

import html
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from musinterp_app import engine, limits, resources
from musinterp_app.audio import io, mel
from musinterp_app.audio import player as playback
from musinterp_app.audio.io import AUDIO_SUFFIXES
from musinterp_app.engine import BlendSettings, Engine
from musinterp_app.gui.spectrogram import SpectrogramView, add_colour_bar
from musinterp_app.gui.track_panel import TrackPanel
from musinterp_app.gui.workers import JobPool, Lane
from musinterp_app.model import evaluation
from musinterp_app.model.onnx_vae import OnnxVAE

AUDIO_FILTER = f"Audio files (*{' *'.join(sorted(AUDIO_SUFFIXES))});;All files (*)"
SLIDER_STEPS = 1000
# The Render menu: (setting, section title, (label, value) options, default).
RENDER_CHOICES = (
    (
        "iterations",
        "Quality (playback and export)",
        (
            ("Fast (4 iterations)", 4),
            (f"Standard ({engine.RENDER_ITERATIONS} iterations)", engine.RENDER_ITERATIONS),
            ("Best (32 iterations)", 32),
        ),
        engine.RENDER_ITERATIONS,
    ),
    (
        "level",
        "Export level",
        (("As heard (never clipping)", "match"), ("Peak at −1 dBFS", "peak")),
        "match",
    ),
    (
        "rate",
        "Export sample rate",
        (("The model's (32768 Hz)", 0), ("44100 Hz", 44100), ("48000 Hz", 48000)),
        0,
    ),
)
# The export dialog's file types: (title, extension, sample format).
EXPORT_TYPES = (
    ("WAV, 16-bit", ".wav", "16"),
    ("WAV, 24-bit", ".wav", "24"),
    ("WAV, 32-bit float", ".wav", "float"),
    ("FLAC, 16-bit", ".flac", "16"),
    ("FLAC, 24-bit", ".flac", "24"),
    ("Ogg Vorbis", ".ogg", "16"),
)
DRAG_DECODE_MS = 33  # ~30 Hz while dragging


class MainWindow(QMainWindow):
    blend_drawn = Signal()  # the blend spectrogram shows the latest decode
    playback_started = Signal()  # sound is on its way to the device

    def __init__(self, model: OnnxVAE, *, settings: QSettings | None = None) -> None:
        super().__init__()
        self.engine = Engine(model)
        self.settings = settings or QSettings()
        self.pool = JobPool(max_workers=4)
        # Build what the first render needs (mel inverse, FFT plans) now, off the UI thread.
        self.pool.start(lambda: mel.prepare(model.mel_config))
        self.lanes = {
            name: Lane(self.pool, self)
            for name in ("A", "B", "decode", "render", "preview", "export", "model")
        }
        self.player = playback.Player(model.mel_config.sample_rate)
        self.playing_view: tuple[SpectrogramView, float] | None = None  # view, offset (s)
        self.blend_buffer: tuple[BlendSettings, playback.PlaybackBuffer] | None = None
        self.blended_mel = None
        self.decoded_settings: BlendSettings | None = None  # what blended_mel shows
        self._play_when_ready = False
        self._preview_target: tuple[SpectrogramView, float] | None = None  # for play_track
        self.last_message: QMessageBox | None = None
        self.audio_problem = playback.unavailable_reason()  # '' when playback works
        self.reported_dropouts = 0
        self.setWindowTitle("musinterp")
        self.setAcceptDrops(False)
        self.cursor_timer = QTimer(self, interval=33, timeout=self._update_cursor)
        self.decode_timer = QTimer(self, singleShot=True, timeout=self._decode_soon)
        self._decode_pending = False
        self._last_decode_s = 0.0
        self._build_widgets()
        self._build_menus()
        self._connect_lanes()
        self._restore_settings()
        self._check_audio_device()
        self._update_enabled()

    # ----- building -------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.panels = {slot: TrackPanel(slot) for slot in ("A", "B")}
        for slot, panel in self.panels.items():
            panel.file_dropped.connect(lambda path, s=slot: self.load(s, path))
            panel.open_requested.connect(lambda s=slot: self.open_dialog(s))
            panel.excerpt_moved.connect(lambda start, s=slot: self.move_excerpt(s, start))

        self.blend_view = SpectrogramView("Blend")
        images = [self.panels["A"].view.image, self.panels["B"].view.image, self.blend_view.image]
        self.colour_bar = add_colour_bar(self.blend_view, images, self.engine.config)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setValue(SLIDER_STEPS // 2)
        self.slider.setToolTip("Blend from A (left) to B (right)")
        self.alpha_box = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.alpha_box.setValue(0.5)
        self.alpha_box.setToolTip("α: 0 is all A, 1 is all B")
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.sliderReleased.connect(self._settled)
        self.alpha_box.editingFinished.connect(self._alpha_typed)

        self.mode_box = QComboBox()
        self.mode_box.addItem("Linear", "lerp")
        self.mode_box.addItem("Spherical", "slerp")
        self.mode_box.setToolTip("How latents are interpolated")
        self.morph_box = QCheckBox("Morph over time")
        self.morph_box.setToolTip("α ramps from A to B across the excerpt: a transition")
        self.detail_box = QCheckBox("Keep detail")
        self.detail_box.setChecked(True)
        self.detail_box.setToolTip(
            "Add back what the model misses of each track, weighted by "
            "its share: α = 0 and 1 give the originals exactly"
        )
        self.duration_box = QDoubleSpinBox(
            decimals=1, minimum=engine.MIN_EXCERPT_S, maximum=60.0, singleStep=0.5, suffix=" s"
        )
        self.duration_box.setValue(engine.DEFAULT_EXCERPT_S)
        self.duration_box.setToolTip("Length of the excerpts that are blended")
        for control in (self.mode_box,):
            control.currentIndexChanged.connect(self._settled)
        for box in (self.morph_box, self.detail_box):
            box.toggled.connect(self._settled)
        self.duration_box.editingFinished.connect(self._duration_changed)

        self.buttons = {
            "A": QPushButton("▶ A"),
            "B": QPushButton("▶ B"),
            "blend": QPushButton("▶ Blend"),
            "stop": QPushButton("■ Stop"),
        }
        self.buttons["A"].clicked.connect(lambda: self.play_track("A"))
        self.buttons["B"].clicked.connect(lambda: self.play_track("B"))
        self.buttons["blend"].clicked.connect(self.play_blend)
        self.buttons["stop"].clicked.connect(self.stop)
        self.buttons["blend"].setToolTip("Play the blend (Space)")
        self.loop_box = QCheckBox("Loop")
        self.loop_box.toggled.connect(lambda on: setattr(self.player, "loop", on))
        self.autoplay_box = QCheckBox("Play on release")
        self.autoplay_box.setChecked(True)
        self.autoplay_box.setToolTip("Play the blend as soon as the slider settles")
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.toggle_play)

        controls = QGridLayout()
        controls.addWidget(QLabel("A"), 0, 0)
        controls.addWidget(self.slider, 0, 1)
        controls.addWidget(QLabel("B"), 0, 2)
        controls.addWidget(self.alpha_box, 0, 3)
        options = QHBoxLayout()
        for widget in (
            QLabel("Interpolation:"),
            self.mode_box,
            self.morph_box,
            self.detail_box,
            QLabel("Excerpt:"),
            self.duration_box,
        ):
            options.addWidget(widget)
        options.addStretch(1)
        transport = QHBoxLayout()
        for name in ("A", "B", "blend", "stop"):
            transport.addWidget(self.buttons[name])
        transport.addWidget(self.loop_box)
        transport.addWidget(self.autoplay_box)
        transport.addStretch(1)

        tracks = QHBoxLayout()
        tracks.addWidget(self.panels["A"], 1)
        tracks.addWidget(self.panels["B"], 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(tracks, 3)
        layout.addWidget(self.blend_view, 3)
        layout.addLayout(controls)
        layout.addLayout(options)
        layout.addLayout(transport)
        self.setCentralWidget(central)

        self.status_text = QLabel("Drop two audio files, or File → Open examples.")
        self.progress = QProgressBar(maximumWidth=200, visible=False)
        self.cancel_button = QPushButton("Cancel", visible=False)
        self.cancel_button.setToolTip("Stop the work in progress (Esc)")
        self.cancel_button.clicked.connect(self.cancel_all)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.cancel_all)
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.actions = {}

        def add(menu, name, text, slot, shortcut=None):
            action = QAction(text, self)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(slot)
            menu.addAction(action)
            self.actions[name] = action

        add(file_menu, "open_a", "Open track &A…", lambda: self.open_dialog("A"), "Ctrl+O")
        add(file_menu, "open_b", "Open track &B…", lambda: self.open_dialog("B"), "Ctrl+Shift+O")
        add(file_menu, "examples", "Open e&xamples", self.open_examples)
        file_menu.addSeparator()
        add(
            file_menu,
            "export",
            "&Export blend…",
            lambda: self.export_dialog(False),
            "Ctrl+E",
        )
        add(
            file_menu,
            "export_morph",
            "Export &morph…",
            lambda: self.export_dialog(True),
            "Ctrl+Shift+E",
        )
        file_menu.addSeparator()
        add(file_menu, "load_model", "Load &model…", self.load_model_dialog)
        file_menu.addSeparator()
        add(file_menu, "quit", "&Quit", self.close, QKeySequence.StandardKey.Quit)
        render_menu = self.menuBar().addMenu("&Render")
        self.choices = {
            name: self._add_choice_group(render_menu, name, title, options, default)
            for name, title, options, default in RENDER_CHOICES
        }
        help_menu = self.menuBar().addMenu("&Help")
        add(help_menu, "about", "&About musinterp", self.about)

    def _add_choice_group(
        self, menu, name: str, title: str, options: tuple, default
    ) -> QActionGroup:
        """A titled group of exclusive, checkable menu items, remembered in the settings."""
        menu.addSection(title)
        group = QActionGroup(self)
        remembered = str(self.settings.value(f"render/{name}", default))
        for label, value in options:
            action = group.addAction(label)
            action.setCheckable(True)
            action.setData(value)
            action.setChecked(str(value) == remembered)
            menu.addAction(action)
        if group.checkedAction() is None:  # a remembered value that is no longer offered
            next(a for a in group.actions() if a.data() == default).setChecked(True)
        group.triggered.connect(
            lambda action: self.settings.setValue(f"render/{name}", action.data())
        )
        return group

    def choice(self, name: str):
        """The value checked in one of the Render menu's groups."""
        return self.choices[name].checkedAction().data()

    def _connect_lanes(self) -> None:
        for slot in ("A", "B"):
            lane = self.lanes[slot]
            lane.finished.connect(lambda track, s=slot: self._track_loaded(s, track))
            lane.failed.connect(lambda message, s=slot: self._track_failed(s, message))
            lane.progress.connect(self._show_progress)
        self.lanes["decode"].finished.connect(self._blend_decoded)
        self.lanes["decode"].failed.connect(self._show_error_status)
        self.lanes["render"].progress.connect(self._render_progress)
        self.lanes["render"].finished.connect(self._render_finished)
        self.lanes["render"].failed.connect(self._show_error_status)
        self.lanes["preview"].finished.connect(
            lambda buffer: self._start_playback(buffer, *self._preview_target)
        )
        self.lanes["export"].progress.connect(self._show_progress)
        self.lanes["export"].finished.connect(self._exported)
        self.lanes["export"].failed.connect(lambda m: self._warn("Export failed", m))
        self.lanes["model"].finished.connect(self._model_loaded)
        self.lanes["model"].failed.connect(
            lambda m: self._warn("Cannot load model", f"{m}\n\nThe previous model is still in use.")
        )

    # ----- state helpers ----------------------------------------------------------------------
    def blend_settings(self) -> BlendSettings:
        return BlendSettings(
            alpha=self.slider.value() / SLIDER_STEPS,
            mode=self.mode_box.currentData(),
            morph=self.morph_box.isChecked(),
            keep_detail=self.detail_box.isChecked(),
        )

    def _update_enabled(self) -> None:
        ready = self.engine.ready
        for name in ("export", "export_morph"):
            self.actions[name].setEnabled(ready)
        can_play = not self.audio_problem
        self.buttons["blend"].setEnabled(ready and can_play)
        self.buttons["stop"].setEnabled(can_play)
        for slot in ("A", "B"):
            self.buttons[slot].setEnabled(can_play and self.engine.tracks[slot] is not None)

    def _check_audio_device(self) -> None:
        if self.audio_problem:
            tip = f"Playback is off: {self.audio_problem}. Export still works."
            for button in self.buttons.values():
                button.setToolTip(tip)
            self.status_text.setText(tip)

    def _show_status(self, message: str) -> None:
        self.status_text.setText(message)

    def _show_error_status(self, message: str) -> None:
        self._hide_progress()
        self.status_text.setText(f"⚠ {message}")

    def _warn(self, title: str, message: str) -> None:
        """Say what went wrong in the status bar and a (non-blocking) message box."""
        self._show_error_status(message.splitlines()[0])
        if self.last_message is not None:
            self.last_message.close()
        self.last_message = QMessageBox(
            QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self
        )
        self.last_message.open()

    def cancel_all(self) -> None:
        """Cancel every background job (loading, rendering, exporting) and stop playback."""
        busy = [name for name, lane in self.lanes.items() if lane.busy]
        for lane in self.lanes.values():
            lane.cancel()
        self.player.stop()
        self._hide_progress()
        for slot, panel in self.panels.items():
            track = self.engine.tracks[slot]
            if slot in busy and track is not None:
                panel.set_track(track, self.engine.config)
            elif slot in busy:
                panel.show_empty()
        self._show_status("Cancelled." if busy else "Nothing to cancel.")

    def _hide_progress(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()

    def _show_progress(self, done: int, total: int) -> None:
        self.cancel_button.setVisible(done < total)
        self.progress.setVisible(done < total)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    # ----- loading ----------------------------------------------------------------------------
    def open_dialog(self, slot: str) -> None:
        folder = self.settings.value("last_folder", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, f"Open track {slot}", folder, AUDIO_FILTER)
        if path:
            self.load(slot, path)

    def open_examples(self) -> None:
        examples = sorted(resources.examples_dir().glob("*.ogg"))
        for slot, path in zip(("A", "B"), examples, strict=False):
            self.load(slot, str(path))

    def load(self, slot: str, path: str) -> None:
        """Load ``path`` into ``slot`` in the background; the old track stays until it works."""
        self.settings.setValue("last_folder", str(Path(path).parent))
        model, duration = self.engine.model, self.duration_box.value()
        self.panels[slot].set_busy(f"Loading {Path(path).name}…")
        self._show_status(f"Loading {Path(path).name} into {slot}…")
        self.lanes[slot].submit(
            lambda cancel, progress: engine.load_track(
                path, model, duration_s=duration, cancel=cancel, progress=progress
            )
        )

    def move_excerpt(self, slot: str, start_s: float) -> None:
        track, model, duration = (
            self.engine.tracks[slot],
            self.engine.model,
            self.duration_box.value(),
        )
        if track is None:
            return
        self._show_status(f"Analysing the new excerpt of {slot}…")
        self.lanes[slot].submit(
            lambda cancel, _progress: engine.with_excerpt(
                track, model, start_s=start_s, duration_s=duration, cancel=cancel
            )
        )

    def _duration_changed(self) -> None:
        for slot, track in self.engine.tracks.items():
            if track is not None and abs(track.duration_s - self.duration_box.value()) > 1e-3:
                self.move_excerpt(slot, track.start_s)

    def _track_loaded(self, slot: str, track: engine.Track) -> None:
        self._hide_progress()
        self.engine.set_track(slot, track)
        self.panels[slot].set_track(track, self.engine.config)
        self.blend_buffer = None
        self._show_status(f"{slot}: {track.name}, excerpt from {track.start_s:.1f} s.")
        self._update_enabled()
        self.request_decode()

    def _track_failed(self, slot: str, message: str) -> None:
        track = self.engine.tracks[slot]
        if track is not None:
            self.panels[slot].set_track(track, self.engine.config)  # the previous one stays
        else:
            self.panels[slot].show_empty()
        self._warn(f"Cannot open file for {slot}", message)

    # ----- blending ---------------------------------------------------------------------------
    def _slider_moved(self, value: int) -> None:
        self.alpha_box.blockSignals(True)
        self.alpha_box.setValue(value / SLIDER_STEPS)
        self.alpha_box.blockSignals(False)
        if self.slider.isSliderDown():
            self._decode_pending = True
            self._decode_soon()
        else:  # keyboard or programmatic change: treat as settled
            self._settled()

    def _decode_soon(self) -> None:
        """Throttle while dragging: decode at once if idle, at most every DRAG_DECODE_MS,
        and never queue more than the newest position."""
        if not self._decode_pending or self.lanes["decode"].busy or self.decode_timer.isActive():
            return
        wait_ms = DRAG_DECODE_MS - 1000 * (time.monotonic() - self._last_decode_s)
        if wait_ms > 0:
            self.decode_timer.start(int(wait_ms) + 1)
        else:
            self.request_decode()

    def _alpha_typed(self) -> None:
        self.slider.setValue(round(self.alpha_box.value() * SLIDER_STEPS))

    def _settled(self) -> None:
        """The slider (or an option) stopped changing: decode now and render the audio."""
        self.decode_timer.stop()
        if self.decoded_settings != self.blend_settings():
            self.request_decode()
        self.request_render(play=self.autoplay_box.isChecked() and not self.audio_problem)

    def request_decode(self) -> None:
        self._decode_pending = False
        if not self.engine.ready:
            return
        self._last_decode_s = time.monotonic()
        settings, blender = self.blend_settings(), self.engine
        self.lanes["decode"].submit(
            lambda _cancel, _progress: (settings, blender.blend_mel(settings))
        )

    def _blend_decoded(self, result) -> None:
        settings, blended = result
        self.blended_mel = blended
        self.decoded_settings = settings
        config = self.engine.config
        self.blend_view.show_mel(blended, config, config.hop_length / config.sample_rate)
        self.blend_view.setTitle(self._blend_title(settings), color="#dddddd", size="10pt")
        self.blend_drawn.emit()
        self._decode_soon()

    @staticmethod
    def _blend_title(settings: BlendSettings) -> str:
        what = "Morph A → B" if settings.morph else f"Blend α = {settings.alpha:.2f}"
        mode = "spherical" if settings.mode == "slerp" else "linear"
        return f"{what} ({mode}{', keep detail' if settings.keep_detail else ''})"

    def request_render(self, *, play: bool) -> None:
        """Render the current blend's audio in the background (playing from the first chunk)."""
        if not self.engine.ready:
            return
        settings, blender = self.blend_settings(), self.engine
        buffer = self.player.new_buffer(blender.blend_frames * blender.config.hop_length)
        self.blend_buffer = (settings, buffer)
        self._play_when_ready = play

        iterations = self.choice("iterations")

        def render(cancel, progress):
            for chunk in blender.render_stream(
                settings, n_iter=iterations, cancel=cancel, progress=progress
            ):
                buffer.write(chunk)
            return buffer

        if play:
            self.player.stop()
        self.lanes["render"].submit(render)
        self._show_status("Rendering the blend…")

    def _render_progress(self, done: int, total: int) -> None:
        self._show_progress(done, total)
        if self._play_when_ready and self.blend_buffer is not None:
            self._play_when_ready = False
            self._start_playback(self.blend_buffer[1], self.blend_view, 0.0)

    def _render_finished(self, _buffer) -> None:
        self._hide_progress()
        self._show_status("Blend ready.")

    # ----- playback ---------------------------------------------------------------------------
    def _start_playback(
        self, buffer: playback.PlaybackBuffer, view: SpectrogramView, offset_s: float
    ) -> None:
        error = self.player.take_error()  # a device that died since the last check
        if error:
            self._audio_device_failed(error)
        if self.audio_problem:
            self._show_error_status(f"Playback is off: {self.audio_problem}.")
            return
        try:
            self.player.play(buffer)
        except RuntimeError as error:
            self._warn("Cannot play", str(error))
            return
        self.playing_view = (view, offset_s)
        self.reported_dropouts = 0
        self.cursor_timer.start()
        self.playback_started.emit()

    def play_track(self, slot: str) -> None:
        """Play a track's excerpt (resampled to the device off the UI thread)."""
        track, player = self.engine.tracks[slot], self.player
        if track is not None:
            self._preview_target = (self.panels[slot].view, track.start_s)
            self.lanes["preview"].submit(lambda _cancel, _progress: player.buffer_of(track.samples))

    def play_blend(self) -> None:
        if not self.engine.ready:
            return
        current = self.blend_settings()
        if self.blend_buffer is not None and self.blend_buffer[0] == current:
            self._start_playback(self.blend_buffer[1], self.blend_view, 0.0)
        else:
            self.request_render(play=True)

    def stop(self) -> None:
        self.player.stop()
        self._update_cursor()

    def toggle_play(self) -> None:
        if self.player.playing:
            self.stop()
        else:
            self.play_blend()

    def _update_cursor(self) -> None:
        if self.playing_view is None:
            return
        view, offset_s = self.playing_view
        if self.player.dropouts != self.reported_dropouts:
            self.reported_dropouts = self.player.dropouts
            if self.reported_dropouts:
                self._show_status(
                    f"Playback had {self.reported_dropouts} dropout"
                    f"{'s' if self.reported_dropouts > 1 else ''}: the computer could not keep "
                    "up (choose Render → Fast, or close other programs)."
                )
        if self.player.playing:
            view.set_cursor(offset_s + self.player.position_s)
        else:
            view.set_cursor(None)
            self.cursor_timer.stop()
            error = self.player.take_error()
            if error:
                self._audio_device_failed(error)

    def _audio_device_failed(self, error: str) -> None:
        """Playback is off until restart (PortAudio lists devices once, at start)."""
        self.audio_problem = f"{error}; restart musinterp to play again"
        self._check_audio_device()
        self._update_enabled()
        self._warn(
            "Playback stopped",
            f"Playback stopped: {error}.\n\nCheck the output device or sound server and "
            "restart musinterp to play again. Export works without it.",
        )

    # ----- export -----------------------------------------------------------------------------
    def export_dialog(self, morph: bool) -> None:
        folder = self.settings.value("last_export_folder", str(Path.home()))
        name = "morph" if morph else f"blend-{self.slider.value() / SLIDER_STEPS:.2f}"
        filters = {f"{title} (*{suffix})": (suffix, bits) for title, suffix, bits in EXPORT_TYPES}
        remembered = str(self.settings.value("export_type", next(iter(filters))))
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Export morph" if morph else "Export blend",
            str(Path(folder) / (name + filters.get(remembered, (".wav",))[0])),
            ";;".join(filters),
            remembered if remembered in filters else next(iter(filters)),
        )
        if path:
            suffix, bits = filters.get(chosen, (".wav", "16"))
            if Path(path).suffix.lower() not in io.OUTPUT_FORMATS:
                path += suffix  # a name the user typed without a known extension
            elif Path(path).suffix.lower() != suffix:
                bits = "16"  # the typed extension wins; its format's common sample size
            self.settings.setValue("last_export_folder", str(Path(path).parent))
            self.settings.setValue("export_type", chosen)
            self.export_to(path, morph=morph, sample_format=bits)

    def export_to(self, path: str, *, morph: bool = False, sample_format: str = "16") -> None:
        """Render the blend (or morph) fully and write it, in the background: stereo when a
        source is, at the level, rate and quality chosen in the Render menu."""
        if not self.engine.ready:
            return
        settings = self.blend_settings()
        if morph:
            settings = BlendSettings(
                mode=settings.mode, morph=True, keep_detail=settings.keep_detail
            )
        blender = self.engine
        sample_rate = blender.config.sample_rate
        iterations, level = self.choice("iterations"), self.choice("level")
        output_rate = self.choice("rate") or None

        def work(cancel, progress):
            audio = blender.render(settings, n_iter=iterations, cancel=cancel, progress=progress)
            if blender.stereo:
                audio = blender.with_stereo_image(settings, audio)
            return engine.export_audio(
                path,
                audio,
                sample_rate,
                level=level,
                output_rate=output_rate,
                sample_format=sample_format,
            )

        self._show_status(f"Exporting {Path(path).name}…")
        self.lanes["export"].submit(work)

    def _exported(self, path) -> None:
        self._hide_progress()
        self._show_status(f"Exported {path}")

    # ----- model ------------------------------------------------------------------------------
    def load_model_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Load model folder", self.settings.value("last_model_folder", "")
        )
        if folder:
            self.load_model(folder)

    def load_model(self, folder: str) -> None:
        """Load a model folder in the background; the current one stays if it is refused."""
        current = self.engine

        def work(cancel, _progress):
            return current.with_model(OnnxVAE(folder), cancel=cancel)

        self._show_status(f"Loading model {folder}…")
        self.lanes["model"].submit(work)

    def _model_loaded(self, switched: Engine) -> None:
        model = switched.model
        self.settings.setValue("last_model_folder", str(model.info.folder))
        self.engine = switched
        for slot, track in switched.tracks.items():
            if track is not None:
                self.panels[slot].set_track(track, model.mel_config)
        self.player.stop()
        self.player = playback.Player(model.mel_config.sample_rate)
        self.blend_buffer = None
        self._show_status(f"Model {model.info.model_id} loaded.")
        self._update_enabled()
        self.request_decode()

    def about(self) -> None:
        info = self.engine.model.info
        summary = evaluation.load_summary(info.folder)
        measured = (
            "<p>" + "<br>".join(html.escape(line) for line in evaluation.plain_words(summary))
            if summary
            else ""
        )
        QMessageBox.about(
            self,
            "About musinterp",
            f"<b>musinterp</b>: blend two pieces of music through a VAE's latent space."
            f"<p>Model <b>{info.model_id}</b> ({info.architecture}, {info.parameters_text}, "
            f"{info.latent_channels}-channel latent"
            f"{f', {info.time_reduction}× time reduction' if info.temporal else ''})<br>"
            f"Features: {info.mel.n_mels} mel bands at {info.mel.sample_rate} Hz<br>"
            f"Trained on: {info.training_data}<br>Folder: {info.folder}</p>{measured}",
        )

    # ----- settings and closing ---------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 820)
        index = self.mode_box.findData(self.settings.value("mode", "lerp"))
        self.mode_box.setCurrentIndex(max(index, 0))
        self.morph_box.setChecked(self.settings.value("morph", False, type=bool))
        self.detail_box.setChecked(self.settings.value("keep_detail", True, type=bool))
        self.loop_box.setChecked(self.settings.value("loop", False, type=bool))
        self.autoplay_box.setChecked(self.settings.value("play_on_release", True, type=bool))
        self.duration_box.setValue(
            self._remembered_number("excerpt_s", limits.EXCERPT_S, engine.DEFAULT_EXCERPT_S)
        )

    def _remembered_number(self, key: str, allowed: limits.Range, default: float) -> float:
        """A number from the settings file, or ``default`` when it holds anything else
        (a hand-edited or damaged file must not start the window with a wild value)."""
        try:
            return allowed.parse(str(self.settings.value(key, default)))
        except limits.OptionError:
            return default

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("mode", self.mode_box.currentData())
        self.settings.setValue("morph", self.morph_box.isChecked())
        self.settings.setValue("keep_detail", self.detail_box.isChecked())
        self.settings.setValue("loop", self.loop_box.isChecked())
        self.settings.setValue("play_on_release", self.autoplay_box.isChecked())
        self.settings.setValue("excerpt_s", self.duration_box.value())
        for lane in self.lanes.values():
            lane.cancel()
        self.player.stop()
        self.cursor_timer.stop()
        self.pool.shutdown()  # the jobs were cancelled: they stop at their next step
        super().closeEvent(event)
