"""The window: layout, menus, dialogs and preferences around a :class:`Session`.

The session owns the engine, the job lanes, the player and what is playing,
and says what happened through signals; the window shows it and turns the
user's input into session calls. It never decodes, renders or plays itself.
The window remembers the session (tracks, excerpts, α, options, model) and
recent files in its preferences (QSettings), and restores them on the next start.
"""

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from musinterp_app.audio.io import AUDIO_SUFFIXES
from musinterp_app.base import resources
from musinterp_app.engine import PAIR_SLOTS, BlendSettings
from musinterp_app.gui import export_dialog, menus, midi, side_panels, window_memory
from musinterp_app.gui.blend_controls import BlendControls
from musinterp_app.gui.drag_out import DragOut
from musinterp_app.gui.messages import plain_audio_problem, plain_message
from musinterp_app.gui.session import Session
from musinterp_app.gui.spectrogram import ColourScale, SpectrogramView, add_difference_bar
from musinterp_app.gui.track_panel import TrackPanel
from musinterp_app.gui.transport_bar import LEVEL_FLOOR_DB, TransportBar
from musinterp_app.model.onnx_vae import OnnxVAE

AUDIO_FILTER = f"Audio files, not M4A/AAC (*{' *'.join(sorted(AUDIO_SUFFIXES))});;All files (*)"
SLIDER_STEPS = 1000
ALPHA_STEP, ALPHA_FINE_STEP = 0.05, 0.01  # arrow keys, and with Shift
RECENT_FILES = 8
NOTICE_MS = 10_000  # a remark or a refused value (⚠) stays this long in the status bar
NOTE = "Note: "  # a remark's start (words: "ⓘ" is missing from common fonts and showed a box)
DIFFERENCE_TITLE = "Difference: blend − (1−α)·A − α·B, in dB"
VIEWS = {  # the views under the tracks, left to right (View menu)
    "A": "A excerpt",
    "blend": "Blend",
    "B": "B excerpt",
    "difference": "Difference from the mix of A and B",
}


class MainWindow(QMainWindow):
    blend_drawn = Signal()  # the blend spectrogram shows the latest decode

    def __init__(self, model: OnnxVAE, *, preferences: QSettings | None = None) -> None:
        super().__init__()
        self.session = Session(model, self)
        self.preferences = preferences or QSettings()
        self.last_message: QMessageBox | None = None
        self.setAcceptDrops(False)
        self.midi = midi.MidiControl(self.preferences, self)
        self._build_widgets()
        self._build_menus()
        self._connect_session()
        self._restore_preferences()
        self._check_audio_device()
        self._update_enabled()
        self._update_title()
        midi.connect_window(self)

    # ----- building -------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        session = self.session
        self._build_views()
        for slot, panel in self.panels.items():
            panel.file_dropped.connect(lambda path, s=slot: self.load(s, path))
            panel.open_requested.connect(lambda s=slot: self.open_dialog(s))
            panel.excerpt_moved.connect(lambda start, s=slot: session.move_excerpt(s, start))
            panel.play_from.connect(lambda start, s=slot: session.transport.play_from(s, start))

        self.blend_controls = BlendControls(SLIDER_STEPS, ALPHA_STEP, ALPHA_FINE_STEP)
        controls = self.blend_controls
        self.slider, self.alpha_box = controls.slider, controls.alpha_box
        self.mode_box, self.morph_box = controls.mode_box, controls.morph_box
        self.detail_box, self.excerpt_box = controls.detail_box, controls.excerpt_box
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.sliderReleased.connect(session.settle)
        self.alpha_box.valueChanged.connect(
            lambda value: self.slider.setValue(round(value * SLIDER_STEPS))
        )
        self.mode_box.currentIndexChanged.connect(
            lambda: self._options_changed(mode=self.mode_box.currentData())
        )
        self.morph_box.toggled.connect(lambda on: self._options_changed(morph=on))
        self.detail_box.toggled.connect(lambda on: self._options_changed(keep_detail=on))
        self.excerpt_box.valueChanged.connect(session.set_excerpt_length)
        for box in (self.alpha_box, self.excerpt_box):
            box.refused.connect(lambda message: self._show_status(f"⚠ {message}"))

        self.transport = TransportBar()
        self.buttons = self.transport.buttons
        self.loop_box, self.autoplay_box = self.transport.loop_box, self.transport.autoplay_box
        self.record_button = self.transport.record_button
        self.volume_slider = self.transport.volume_slider
        self.level_meter = self.transport.level_meter
        self.transport.connect_to(session, self._play_button)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, session.transport.toggle_play)
        QShortcut(QKeySequence(Qt.Key.Key_R), self, self.record_button.toggle)
        for key, name in ((Qt.Key.Key_A, "A"), (Qt.Key.Key_B, "B"), (Qt.Key.Key_N, "blend")):
            QShortcut(QKeySequence(key), self, lambda n=name: self.buttons[n].click())

        tracks = QHBoxLayout()
        tracks.addWidget(self.panels["A"], 1)
        tracks.addWidget(self.panels["B"], 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(tracks, 3)
        views = QHBoxLayout()
        for name in VIEWS:
            views.addWidget(self.views[name], 2 if name in ("blend", "difference") else 1)
        layout.addLayout(views, 3)
        layout.addWidget(self.blend_controls)
        layout.addWidget(self.transport)
        self.setCentralWidget(central)
        self._build_docks()
        self._build_status_bar()
        self.drag_out = DragOut(self)  # the blend view and the excerpts, dragged out

    def _build_views(self) -> None:
        """The track panels and the spectrogram views, on one time axis and colour scale."""
        self.panels = {slot: TrackPanel(slot) for slot in PAIR_SLOTS}
        self.views = {
            "A": SpectrogramView("A excerpt", empty_text="A's excerpt"),
            "blend": SpectrogramView(
                "Blend", empty_text="The blend of A and B appears here\nonce both are loaded"
            ),
            "B": SpectrogramView("B excerpt", empty_text="B's excerpt"),
            "difference": SpectrogramView(
                DIFFERENCE_TITLE, empty_text="What the model changes\nappears here"
            ),
        }
        self.blend_view = self.views["blend"]
        config = self.session.engine.config
        for view in self.views.values():
            if view is not self.blend_view:
                view.setXLink(self.blend_view)  # one time axis for all
        self.spectrograms = [panel.view for panel in self.panels.values()] + [
            self.views[name] for name in ("A", "blend", "B")
        ]
        self.colour_scale = ColourScale(self.blend_view, self.spectrograms, config)
        add_difference_bar(self.views["difference"], config)
        self.readout = QLabel()
        for view in (*self.spectrograms, self.views["difference"]):
            view.hovered.connect(self.readout.setText)

    def _build_status_bar(self) -> None:
        """What is happening, the hovered point's readout, progress and Cancel (Esc)."""
        self.status_text = QLabel()
        self.notice_timer = QTimer(
            self, interval=NOTICE_MS, singleShot=True, timeout=self._clear_notice
        )
        self.progress = QProgressBar(maximumWidth=200, visible=False)
        self.cancel_button = QPushButton("Cancel", visible=False)
        self.cancel_button.setToolTip("Stop the work in progress (Esc)")
        self.cancel_button.clicked.connect(self.cancel_all)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.cancel_all)
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.readout)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

    def _build_docks(self) -> None:
        """Tempo and key matching, and the four-corner pad (:mod:`side_panels`)."""
        side_panels.build(self)

    def _build_menus(self) -> None:
        self.actions, self.recent_menus, self.choices = menus.build(self, VIEWS)

    def choice(self, name: str):
        """The value checked in one of the Render menu's groups."""
        return self.choices[name].checkedAction().data()

    def _connect_session(self) -> None:
        session = self.session
        session.track_loading.connect(self._track_loading)
        session.track_changed.connect(self._track_changed)
        session.track_changed.connect(self.sync_controls.track_changed)
        session.track_changed.connect(lambda _slot: self.pad.refresh())  # A and B are corners
        session.track_failed.connect(self._track_failed)
        session.blend_decoded.connect(self._blend_decoded)
        session.settings_changed.connect(self._show_settings)
        session.status.connect(self._show_status)
        session.notice.connect(lambda text: self._show_status(NOTE + text))
        session.problem.connect(self._warn)
        session.progress.connect(self._show_progress)
        session.work_ended.connect(self._hide_progress)
        session.cursor.connect(self._move_cursor)
        session.level.connect(self.transport.show_level)
        session.performance_recorded.connect(self._update_enabled)
        session.recording_changed.connect(self._show_recording)
        session.playing_changed.connect(self._show_playing)
        session.playing_changed.connect(lambda _source: side_panels.show_slider_blend(self))
        session.model_changed.connect(self._model_changed)

    # ----- state helpers ----------------------------------------------------------------------
    def _update_enabled(self) -> None:
        session = self.session
        ready, morph = session.ready, session.settings.morph
        self.actions["export"].setEnabled(ready)
        self.actions["export_performance"].setEnabled(
            session.transport.live.performance is not None
        )
        self.actions["export"].setText("&Export morph A → B…" if morph else "&Export blend…")
        self.actions["swap"].setEnabled(any(session.tracks.values()))
        can_play = not session.transport.audio_problem
        self.buttons["blend"].setEnabled(ready and can_play)
        # Record captures what plays live (a morph is rendered whole: nothing to perform)
        self.record_button.setEnabled(ready and can_play and not morph)
        self._show_playing(
            session.transport.playing
        )  # the play buttons' words (▶ Morph, ■ Blend …)
        for slot in PAIR_SLOTS:
            self.buttons[slot].setEnabled(can_play and session.tracks[slot] is not None)
        for control in (self.slider, self.alpha_box):  # a morph ramps α itself
            control.setEnabled(not morph)
            control.setToolTip(
                "Morph over time is on: α ramps from A to B across the excerpt, so there is "
                "no α to choose. Untick it to blend at one α."
                if morph
                else "Blend from A (left) to B (right)"
            )

    def _update_stop(self) -> None:
        """Stop is there only while something plays."""
        session = self.session
        self.buttons["stop"].setEnabled(
            bool(session.transport.playing) and not session.transport.audio_problem
        )

    def _update_title(self) -> None:
        names = [f"{slot}: {t.name}" for slot, t in self.session.tracks.items() if t is not None]
        self.setWindowTitle(" · ".join(names) + " — musinterp" if names else "musinterp")

    def _check_audio_device(self) -> None:
        problem = self.session.transport.audio_problem
        if problem:
            tip = f"Playback is off: {plain_audio_problem(problem)}. Export still works."
            for button in self.buttons.values():
                button.setToolTip(tip)
            self.status_text.setText(tip)
        elif not self.status_text.text():
            self.status_text.setText(self._idle_text())

    def _idle_text(self) -> str:
        if not any(self.session.tracks.values()):
            return "Drop two audio files on A and B, or File → Open examples."
        return "Ready."

    def _show_status(self, message: str) -> None:
        self.status_text.setText(message)
        if message.startswith((NOTE, "⚠")):  # a remark, not a state: it does not stay
            self.notice_timer.start()

    def _clear_notice(self) -> None:
        text = self.status_text.text()
        box_open = self.last_message is not None and self.last_message.isVisible()
        if text.startswith((NOTE, "⚠")) and not box_open:  # a message box's stays till closed
            self.status_text.setText(self._idle_text())

    def _warn(self, title: str, message: str) -> None:
        """Say what went wrong in a (non-blocking) message box, with any raw library
        words behind Details…, and in the status bar until the box is closed."""
        text, details = plain_message(message)
        self._hide_progress()
        first = text.splitlines()[0]
        self.status_text.setText(f"⚠ {first if len(first) <= 120 else first[:119] + '…'}")
        if self.session.transport.audio_problem:
            self._check_audio_device()
            self._update_enabled()
        if self.last_message is not None:
            self.last_message.close()
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self
        )
        if details:
            box.setDetailedText(details)
        box.finished.connect(lambda _result: self._message_closed(box))
        self.last_message = box
        box.open()

    def _message_closed(self, box: QMessageBox) -> None:
        """The message was read: its warning leaves the status bar."""
        if box is self.last_message and self.status_text.text().startswith("⚠"):
            self.status_text.setText(self._idle_text())

    def cancel_all(self) -> None:
        """Cancel every background job (loading, rendering, exporting) and stop playback."""
        busy = self.session.cancel_all()
        if self.midi.learning:
            self.midi.learn("")
            busy.append("MIDI learn")
        for slot in PAIR_SLOTS:
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

    def show_shortcuts(self) -> None:
        self._show_box("Keyboard shortcuts", menus.shortcuts_text(ALPHA_STEP, ALPHA_FINE_STEP))

    def _show_box(self, title: str, text: str) -> None:
        """An information box that does not block the window (Help's boxes)."""
        box = QMessageBox(
            QMessageBox.Icon.NoIcon, title, text, QMessageBox.StandardButton.Close, self
        )
        self.info_box = box
        box.open()

    # ----- loading ----------------------------------------------------------------------------
    def open_dialog(self, slot: str) -> None:
        folder = self.preferences.value("last_folder", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, f"Open track {slot}", folder, AUDIO_FILTER)
        if path:
            self.load(slot, path)

    def open_examples(self) -> None:
        examples = sorted(resources.examples_dir().glob("*.ogg"))
        for slot, path in zip(PAIR_SLOTS, examples, strict=False):
            self.load(slot, str(path))

    def load(self, slot: str, path: str) -> None:
        """Load ``path`` into ``slot`` in the background; the old track stays until it works."""
        self.preferences.setValue("last_folder", str(Path(path).absolute().parent))
        self.session.load(slot, path)

    def recent_files(self) -> list[str]:
        stored = self.preferences.value("recent_files", [])
        return [stored] if isinstance(stored, str) else list(stored or [])

    def _remember_recent(self, path: Path) -> None:
        name = str(path.absolute())
        recent = [name] + [p for p in self.recent_files() if p != name]
        self.preferences.setValue("recent_files", recent[:RECENT_FILES])

    def _fill_recent_menu(self, slot: str) -> None:
        menu: QMenu = self.recent_menus[slot]
        menu.clear()
        for path in self.recent_files():
            action = menu.addAction(Path(path).name, lambda p=path: self.load(slot, p))
            action.setToolTip(path)
            action.setEnabled(Path(path).is_file())
        if menu.isEmpty():
            menu.addAction("(no recent files)").setEnabled(False)

    def _track_loading(self, slot: str, name: str) -> None:
        self.panels[slot].set_busy(f"Loading {name}…")
        self._show_status(f"Loading {name} into {slot}…")

    def _track_changed(self, slot: str) -> None:
        track = self.session.tracks[slot]
        if track is None:
            self.panels[slot].show_empty()
        else:
            self.panels[slot].set_track(track, self.session.engine.config)
            self._remember_recent(track.path)
        if track is None:
            self.views[slot].show_empty()
        else:
            config = self.session.engine.config
            self.views[slot].show_mel(track.mel, config, config.hop_length / config.sample_rate)
        if not self.session.ready:
            self.blend_view.show_empty()
            self.views["difference"].show_empty()
        self._show_blended_parts()
        self._fit_colours()
        self._update_enabled()
        self._update_title()

    def _show_blended_parts(self) -> None:
        """A track's header says when the blend uses only the start of its excerpt (the
        other track is shorter), as the blend view's title says the blend's length."""
        tracks = self.session.tracks
        frames = self.session.engine.blend_frames if self.session.ready else None
        config = self.session.engine.config
        for slot, other in zip(PAIR_SLOTS, PAIR_SLOTS[::-1], strict=True):
            track = tracks[slot]
            if frames is None or track is None or frames >= track.frames:
                self.panels[slot].set_blended(None)
            else:
                self.panels[slot].set_blended(config.frames_to_seconds(frames), other)

    def _track_failed(self, slot: str, message: str) -> None:
        self._track_changed(slot)  # the previous one stays
        self._warn(f"Cannot open file for {slot}", message)

    # ----- blending ---------------------------------------------------------------------------
    def _slider_moved(self, value: int) -> None:
        """α travels from the slider to the session; the other settings stay the session's."""
        self.alpha_box.blockSignals(True)
        self.alpha_box.setValue(value / SLIDER_STEPS)
        self.alpha_box.blockSignals(False)
        self.session.set_alpha(value / SLIDER_STEPS, dragging=self.slider.isSliderDown())

    def _options_changed(self, **changes) -> None:
        """One option changed (``mode``, ``morph`` or ``keep_detail``): only it travels."""
        self.session.set_options(**changes)
        self._update_enabled()

    def _show_settings(self) -> None:
        """Show the session's settings (after undo/redo) without asking for them again."""
        settings = self.session.settings
        widgets = (self.slider, self.alpha_box, self.mode_box, self.morph_box, self.detail_box)
        for widget in (*widgets, self.excerpt_box):
            widget.blockSignals(True)
        self.slider.setValue(round(settings.alpha * SLIDER_STEPS))
        self.alpha_box.setValue(settings.alpha)
        self.mode_box.setCurrentIndex(max(self.mode_box.findData(settings.mode), 0))
        self.morph_box.setChecked(settings.morph)
        self.detail_box.setChecked(settings.keep_detail)
        self.excerpt_box.setValue(self.session.excerpt_s)
        for widget in (*widgets, self.excerpt_box):
            widget.blockSignals(False)
        self._update_enabled()

    def _blend_decoded(self) -> None:
        session = self.session
        self.showing_pad = False
        config = session.engine.config
        self.blend_view.show_mel(
            session.blended_mel, config, config.hop_length / config.sample_rate
        )
        seconds = config.frames_to_seconds(session.blended_mel.shape[1])
        title = f"{self._blend_title(session.decoded_settings)} · {seconds:.1f} s"
        if seconds < session.excerpt_s - 0.05:  # a track is shorter than the excerpt asked
            title += " (the shorter track)"
        self.blend_view.setTitle(title, color="#dddddd", size="10pt")
        self._show_difference()
        if not self.slider.isSliderDown():  # refitting repaints every view: not per drag step
            self._fit_colours()
        self.blend_drawn.emit()

    def _show_difference(self) -> None:
        session, view = self.session, self.views["difference"]
        if view.isVisible() and session.difference_mel is not None:
            config = session.engine.config
            view.show_mel(
                session.difference_mel,
                config,
                config.hop_length / config.sample_rate,
                difference=True,
            )

    def _show_view(self, name: str, on: bool) -> None:
        self.views[name].setVisible(on)
        self.preferences.setValue(f"view/{name}", on)
        if name == "difference" and on:
            self._show_difference()

    def _auto_colours(self, on: bool) -> None:
        self.colour_scale.auto = on
        self._fit_colours()

    def _fit_colours(self) -> None:
        """While the colour range is automatic: fit it to every spectrogram shown."""
        self.colour_scale.fit(
            [view.shown[0] for view in self.spectrograms if view.shown is not None]
        )

    @staticmethod
    def _blend_title(settings: BlendSettings) -> str:
        """What the blend view shows (its options are the controls' right under it: a
        longer title set the view's minimum width past a small window's)."""
        return "Morph A → B" if settings.morph else f"Blend α = {settings.alpha:.2f}"

    # ----- playback ---------------------------------------------------------------------------
    def _play_button(self, name: str) -> None:
        """A play button starts its sound, or stops it when it is the one playing."""
        session = self.session
        if session.transport.playing == name:
            session.transport.stop()
        elif name == "blend":
            session.transport.play_blend()
        else:
            session.transport.play_track(name)
        self._show_playing(session.transport.playing)

    def _show_playing(self, source: str) -> None:
        for name in ("A", "B", "blend"):
            self.buttons[name].setChecked(name == source)
            label = "Morph" if name == "blend" and self.session.settings.morph else name
            label = "Blend" if label == "blend" else label
            self.buttons[name].setText(f"{'■' if name == source else '▶'} {label}")
        self._update_stop()
        if not source:
            self.transport.show_level(LEVEL_FLOOR_DB)

    def _show_recording(self, on: bool) -> None:
        """Record's button follows the session (Stop and Esc end a recording too)."""
        blocked = self.record_button.blockSignals(True)
        self.record_button.setChecked(on)
        self.record_button.setText("● Recording" if on else "● Record")
        self.record_button.blockSignals(blocked)

    def _move_cursor(self, source: str, seconds) -> None:
        """The playhead in every view of what plays: a track's whole file and its excerpt
        (``seconds`` into the file), or the blend and the excerpts it is made of
        (``seconds`` into the blend); ``None`` hides them."""
        if source in ("blend", "pad"):
            for view in (self.blend_view, self.views["A"], self.views["B"]):
                view.set_cursor(seconds)
            return
        self.panels[source].view.set_cursor(seconds)
        track = self.session.tracks.get(source)
        inside = seconds is not None and track is not None
        inside = inside and track.start_s <= seconds <= track.start_s + track.excerpt_s
        self.views[source].set_cursor(seconds - track.start_s if inside else None)

    # ----- export -----------------------------------------------------------------------------
    def export_name(self, *, performance: bool = False) -> str:
        """A file name that says what the export holds (without extension)."""
        return export_dialog.export_name(self.session, performance=performance)

    def export_dialog(self, *, performance: bool = False) -> None:
        """Choose a file and export the blend (or morph), or the recorded performance."""
        export_dialog.ask_and_export(self, performance=performance)

    def export_to(self, path: str, **options) -> None:
        """Render the blend (or morph, or the recorded performance) fully and write it, in
        the background (``options``: those of ``Session.export_to``)."""
        self.session.export_to(path, **options)

    # ----- model ------------------------------------------------------------------------------
    def load_model_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Load model folder", self.preferences.value("last_model_folder", "")
        )
        if folder:
            self.load_model(folder)

    def load_model(self, folder: str) -> None:
        """Load a model folder in the background; the current one stays if it is refused."""
        self.session.load_model(folder)

    def _model_changed(self) -> None:
        folder = str(self.session.engine.model.info.folder.absolute())
        self.preferences.setValue("last_model_folder", folder)
        self._update_enabled()

    def about(self) -> None:
        self._show_box("About musinterp", menus.about_text(self.session.engine.model.info))

    # ----- settings and closing ---------------------------------------------------------------
    def _restore_preferences(self) -> None:
        """The window's options, and the last session's tracks (those whose files exist)."""
        window_memory.restore(self)

    def save_settings(self) -> None:
        """Remember the window and the session for the next start."""
        window_memory.save(self)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.midi.close()
        self.save_settings()
        self.pad.cancelled()  # nothing of the pad's starts once the session is closed
        self.drag_out.close()
        self.session.close()
        super().closeEvent(event)
