"""The window: layout, menus, dialogs and settings around a :class:`Session`.

The session owns the engine, the job lanes, the player and what is playing,
and says what happened through signals; the window shows it and turns the
user's input into session calls. It never decodes, renders or plays itself.
"""

import html
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
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
from musinterp_app.audio import io
from musinterp_app.audio.io import AUDIO_SUFFIXES
from musinterp_app.engine import BlendSettings
from musinterp_app.gui.session import Session
from musinterp_app.gui.spectrogram import SpectrogramView, add_colour_bar
from musinterp_app.gui.track_panel import TrackPanel
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


class MainWindow(QMainWindow):
    blend_drawn = Signal()  # the blend spectrogram shows the latest decode

    def __init__(self, model: OnnxVAE, *, settings: QSettings | None = None) -> None:
        super().__init__()
        self.session = Session(model, self)
        self.settings = settings or QSettings()
        self.last_message: QMessageBox | None = None
        self.setWindowTitle("musinterp")
        self.setAcceptDrops(False)
        self._build_widgets()
        self._build_menus()
        self._connect_session()
        self._restore_settings()
        self._check_audio_device()
        self._update_enabled()

    # ----- building -------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        session = self.session
        self.panels = {slot: TrackPanel(slot) for slot in ("A", "B")}
        for slot, panel in self.panels.items():
            panel.file_dropped.connect(lambda path, s=slot: self.load(s, path))
            panel.open_requested.connect(lambda s=slot: self.open_dialog(s))
            panel.excerpt_moved.connect(lambda start, s=slot: session.move_excerpt(s, start))

        self.blend_view = SpectrogramView("Blend")
        images = [self.panels["A"].view.image, self.panels["B"].view.image, self.blend_view.image]
        self.colour_bar = add_colour_bar(self.blend_view, images, session.engine.config)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setValue(SLIDER_STEPS // 2)
        self.slider.setToolTip("Blend from A (left) to B (right)")
        self.alpha_box = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.alpha_box.setValue(0.5)
        self.alpha_box.setToolTip("α: 0 is all A, 1 is all B")
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.sliderReleased.connect(session.settle)
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
        self.mode_box.currentIndexChanged.connect(self._options_changed)
        for box in (self.morph_box, self.detail_box):
            box.toggled.connect(self._options_changed)
        self.duration_box.editingFinished.connect(
            lambda: session.set_excerpt_length(self.duration_box.value())
        )

        self.buttons = {
            "A": QPushButton("▶ A"),
            "B": QPushButton("▶ B"),
            "blend": QPushButton("▶ Blend"),
            "stop": QPushButton("■ Stop"),
        }
        self.buttons["A"].clicked.connect(lambda: session.play_track("A"))
        self.buttons["B"].clicked.connect(lambda: session.play_track("B"))
        self.buttons["blend"].clicked.connect(session.play_blend)
        self.buttons["stop"].clicked.connect(session.stop)
        self.buttons["blend"].setToolTip("Play the blend (Space)")
        self.loop_box = QCheckBox("Loop")
        self.loop_box.toggled.connect(lambda on: setattr(self.session.player, "loop", on))
        self.autoplay_box = QCheckBox("Play on release")
        self.autoplay_box.setChecked(True)
        self.autoplay_box.setToolTip("Play the blend as soon as the slider settles")
        self.autoplay_box.toggled.connect(lambda on: setattr(session, "autoplay", on))
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, session.toggle_play)

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
        add(file_menu, "export", "&Export blend…", lambda: self.export_dialog(False), "Ctrl+E")
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
        """A titled group of exclusive, checkable menu items, remembered in the settings
        and handed to the session's render options."""
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

        def chosen(action: QAction) -> None:
            self.settings.setValue(f"render/{name}", action.data())
            self.session.render_options[name] = action.data()

        group.triggered.connect(chosen)
        self.session.render_options[name] = group.checkedAction().data()
        return group

    def choice(self, name: str):
        """The value checked in one of the Render menu's groups."""
        return self.choices[name].checkedAction().data()

    def _connect_session(self) -> None:
        session = self.session
        session.track_loading.connect(self._track_loading)
        session.track_changed.connect(self._track_changed)
        session.track_failed.connect(self._track_failed)
        session.blend_decoded.connect(self._blend_decoded)
        session.status.connect(self._show_status)
        session.notice.connect(self._show_status)
        session.problem.connect(self._warn)
        session.progress.connect(self._show_progress)
        session.work_ended.connect(self._hide_progress)
        session.cursor.connect(self._move_cursor)
        session.model_changed.connect(self._model_changed)
        session.exported.connect(lambda _path: None)

    # ----- state helpers ----------------------------------------------------------------------
    def blend_settings(self) -> BlendSettings:
        return BlendSettings(
            alpha=self.slider.value() / SLIDER_STEPS,
            mode=self.mode_box.currentData(),
            morph=self.morph_box.isChecked(),
            keep_detail=self.detail_box.isChecked(),
        )

    def _update_enabled(self) -> None:
        ready = self.session.ready
        for name in ("export", "export_morph"):
            self.actions[name].setEnabled(ready)
        can_play = not self.session.audio_problem
        self.buttons["blend"].setEnabled(ready and can_play)
        self.buttons["stop"].setEnabled(can_play)
        for slot in ("A", "B"):
            self.buttons[slot].setEnabled(can_play and self.session.tracks[slot] is not None)

    def _check_audio_device(self) -> None:
        problem = self.session.audio_problem
        if problem:
            tip = f"Playback is off: {problem}. Export still works."
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
        if self.session.audio_problem:
            self._check_audio_device()
            self._update_enabled()
        if self.last_message is not None:
            self.last_message.close()
        self.last_message = QMessageBox(
            QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self
        )
        self.last_message.open()

    def cancel_all(self) -> None:
        """Cancel every background job (loading, rendering, exporting) and stop playback."""
        busy = self.session.cancel_all()
        for slot in ("A", "B"):
            if slot in busy:
                self._track_changed(slot)
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
        self.session.load(slot, path)

    def _track_loading(self, slot: str, name: str) -> None:
        self.panels[slot].set_busy(f"Loading {name}…")
        self._show_status(f"Loading {name} into {slot}…")

    def _track_changed(self, slot: str) -> None:
        track = self.session.tracks[slot]
        if track is None:
            self.panels[slot].show_empty()
        else:
            self.panels[slot].set_track(track, self.session.engine.config)
        self._update_enabled()

    def _track_failed(self, slot: str, message: str) -> None:
        self._track_changed(slot)  # the previous one stays
        self._warn(f"Cannot open file for {slot}", message)

    # ----- blending ---------------------------------------------------------------------------
    def _slider_moved(self, value: int) -> None:
        self.alpha_box.blockSignals(True)
        self.alpha_box.setValue(value / SLIDER_STEPS)
        self.alpha_box.blockSignals(False)
        dragging = self.slider.isSliderDown()
        self.session.set_settings(self.blend_settings(), dragging=dragging)
        if not dragging:  # keyboard or programmatic change: treat as settled
            self.session.settle()

    def _alpha_typed(self) -> None:
        self.slider.setValue(round(self.alpha_box.value() * SLIDER_STEPS))

    def _options_changed(self) -> None:
        self.session.set_settings(self.blend_settings())
        self.session.settle()

    def _blend_decoded(self) -> None:
        session = self.session
        config = session.engine.config
        self.blend_view.show_mel(
            session.blended_mel, config, config.hop_length / config.sample_rate
        )
        self.blend_view.setTitle(
            self._blend_title(session.decoded_settings), color="#dddddd", size="10pt"
        )
        self.blend_drawn.emit()

    @staticmethod
    def _blend_title(settings: BlendSettings) -> str:
        what = "Morph A → B" if settings.morph else f"Blend α = {settings.alpha:.2f}"
        mode = "spherical" if settings.mode == "slerp" else "linear"
        return f"{what} ({mode}{', keep detail' if settings.keep_detail else ''})"

    def _view_of(self, source: str) -> SpectrogramView:
        return self.blend_view if source == "blend" else self.panels[source].view

    def _move_cursor(self, source: str, seconds) -> None:
        self._view_of(source).set_cursor(seconds)

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
        """Render the blend (or morph) fully and write it, in the background."""
        self.session.export_to(path, morph=morph, sample_format=sample_format)

    # ----- model ------------------------------------------------------------------------------
    def load_model_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Load model folder", self.settings.value("last_model_folder", "")
        )
        if folder:
            self.load_model(folder)

    def load_model(self, folder: str) -> None:
        """Load a model folder in the background; the current one stays if it is refused."""
        self.session.load_model(folder)

    def _model_changed(self) -> None:
        self.settings.setValue("last_model_folder", str(self.session.engine.model.info.folder))
        self._update_enabled()

    def about(self) -> None:
        info = self.session.engine.model.info
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
        for widget in (self.mode_box, self.morph_box, self.detail_box):
            widget.blockSignals(True)
        index = self.mode_box.findData(self.settings.value("mode", "lerp"))
        self.mode_box.setCurrentIndex(max(index, 0))
        self.morph_box.setChecked(self.settings.value("morph", False, type=bool))
        self.detail_box.setChecked(self.settings.value("keep_detail", True, type=bool))
        for widget in (self.mode_box, self.morph_box, self.detail_box):
            widget.blockSignals(False)
        self.session.settings = self.blend_settings()
        self.loop_box.setChecked(self.settings.value("loop", False, type=bool))
        self.autoplay_box.setChecked(self.settings.value("play_on_release", True, type=bool))
        self.duration_box.setValue(
            self._remembered_number("excerpt_s", limits.EXCERPT_S, engine.DEFAULT_EXCERPT_S)
        )
        self.session.excerpt_s = self.duration_box.value()

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
        self.session.close()
        super().closeEvent(event)
