"""The window's menu bar: File, Edit, View, Render, Tools and Help (and what Help shows),
built for a
:class:`~musinterp_app.gui.main_window.MainWindow` (its actions call the window's and
the session's methods; the window keeps the actions by name)."""

import html

from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from musinterp_app import __version__, engine
from musinterp_app.audio import player as playback
from musinterp_app.engine import PAIR_SLOTS
from musinterp_app.gui import generate_dialog, listening_test, midi, window_memory
from musinterp_app.model import evaluation
from musinterp_app.model.onnx_vae import ModelInfo

# The Render menu: (setting, section title, (label, value) options, default).
RENDER_CHOICES = (
    (
        "iterations",
        "Quality (playback and export)",
        (
            ("Fast (8 iterations)", 8),
            (f"Standard ({engine.RENDER_ITERATIONS} iterations)", engine.RENDER_ITERATIONS),
            (f"Best ({2 * engine.RENDER_ITERATIONS} iterations)", 2 * engine.RENDER_ITERATIONS),
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
        (
            ("The sources' rate", 0),
            ("44100 Hz", 44100),
            ("48000 Hz", 48000),
            ("96000 Hz", 96000),
            ("The model's (no sound above 16.4 kHz)", -1),
        ),
        0,
    ),
)


def build(window, views: dict[str, str]) -> tuple[dict[str, QAction], dict, dict]:
    """The menus of ``window`` (``views``: its views' names and titles, for the View
    menu): its actions by name, the *Open recent* menus by slot and the Render menu's
    choice groups (``QActionGroup``) by setting."""
    actions: dict[str, QAction] = {}

    def add(menu, name, text, slot, shortcut=None):
        action = QAction(text, window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        actions[name] = action

    bar = window.menuBar()
    recent_menus = _file_menu(window, bar.addMenu("&File"), add)
    _edit_menu(window, bar.addMenu("&Edit"), add, actions)
    _view_menu(window, bar.addMenu("&View"), actions, views)
    render_menu = bar.addMenu("&Render")
    choices = {
        name: _choice_group(window, render_menu, name, title, options, default)
        for name, title, options, default in RENDER_CHOICES
    }
    _audio_menu(window, bar.addMenu("&Audio"))
    tools_menu = bar.addMenu("&Tools")
    add(tools_menu, "listening_test", "&Listening test…", lambda: listening_test.open_for(window))
    midi_menu = tools_menu.addMenu("&MIDI learn")
    for target, words in midi.TARGETS.items():
        text = f"Control {words} with the next knob moved…"
        add(midi_menu, f"midi_{target}", text, lambda _=False, t=target: window.midi.learn(t))
    add(midi_menu, "midi_forget", "Forget the controllers", window.midi.forget)
    help_menu = bar.addMenu("&Help")
    add(help_menu, "shortcuts", "&Keyboard shortcuts", window.show_shortcuts, "F1")
    add(help_menu, "about", "&About musinterp", window.about)
    return actions, recent_menus, choices


def _file_menu(window, file_menu, add) -> dict:
    add(file_menu, "open_a", "Open track &A…", lambda: window.open_dialog("A"), "Ctrl+O")
    add(file_menu, "open_b", "Open track &B…", lambda: window.open_dialog("B"), "Ctrl+Shift+O")
    recent_menus = {}
    for slot in PAIR_SLOTS:
        menu = file_menu.addMenu(f"Open &recent in {slot}")
        menu.aboutToShow.connect(lambda s=slot: window._fill_recent_menu(s))
        recent_menus[slot] = menu
    add(file_menu, "examples", "Open e&xamples", window.open_examples)
    file_menu.addSeparator()
    add(file_menu, "open_session", "Open sess&ion…", lambda: window_memory.ask_and_open(window))
    add(file_menu, "save_session", "&Save session…", lambda: window_memory.ask_and_save(window),
        QKeySequence.StandardKey.Save)  # fmt: skip
    file_menu.addSeparator()
    add(file_menu, "generate", "&Generate…", lambda: generate_dialog.open_for(window))
    file_menu.addSeparator()
    add(file_menu, "export", "&Export blend…", window.export_dialog, "Ctrl+E")
    performance = lambda: window.export_dialog(performance=True)  # noqa: E731
    add(file_menu, "export_performance", "Export &performance…", performance, "Ctrl+Shift+E")
    file_menu.addSeparator()
    add(file_menu, "load_model", "Load &model…", window.load_model_dialog)
    file_menu.addSeparator()
    add(file_menu, "quit", "&Quit", window.close, QKeySequence.StandardKey.Quit)
    return recent_menus


def _edit_menu(window, edit_menu, add, actions: dict) -> None:
    stack = window.session.undo_stack
    actions["undo"] = stack.createUndoAction(window, "&Undo")
    actions["undo"].setShortcut(QKeySequence.StandardKey.Undo)
    actions["redo"] = stack.createRedoAction(window, "&Redo")
    actions["redo"].setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    edit_menu.addAction(actions["undo"])
    edit_menu.addAction(actions["redo"])
    edit_menu.addSeparator()
    add(edit_menu, "swap", "&Swap A ↔ B", window.session.swap, "Ctrl+Shift+X")


def _view_menu(window, view_menu, actions: dict, views: dict[str, str]) -> None:
    for name, title in views.items():
        action = QAction(title, window, checkable=True)
        action.setChecked(window.preferences.value(f"view/{name}", name != "difference", type=bool))
        action.toggled.connect(lambda on, n=name: window._show_view(n, on))
        window.views[name].setVisible(action.isChecked())
        view_menu.addAction(action)
        actions[f"view_{name}"] = action
    view_menu.addSeparator()
    for name, dock in window.docks.items():
        actions[f"view_{name}"] = dock.toggleViewAction()
        view_menu.addAction(actions[f"view_{name}"])
    view_menu.addSeparator()
    auto = QAction("Automatic colour range", window, checkable=True, checked=True)
    auto.setToolTip("Colours span what is shown; drag the colour bar's ends to set them")
    auto.toggled.connect(window._auto_colours)
    view_menu.addAction(auto)
    actions["auto_colour"] = auto
    window.colour_scale.adjusted.connect(lambda: auto.setChecked(False))


BUFFER_SIZES = (256, 512, 1024, 2048, 4096)  # samples per block the device asks for


def _audio_menu(window, menu) -> None:
    """Audio → the output device and its buffer size (remembered; the latency is said)."""
    devices = menu.addMenu("Output &device")
    buffers = menu.addMenu("&Buffer size")

    def use(device: str | None, block_size: int) -> None:
        window.preferences.setValue("audio/device", device or "")
        window.preferences.setValue("audio/block_size", block_size)
        window.session.transport.set_output(device, block_size)
        window.session.status.emit(f"Playing through {window.session.transport.output_words()}.")

    def fill_devices() -> None:
        devices.clear()
        current = window.session.transport.output[0]
        choices = [(None, "The system's default")]
        choices += [(d.name, d.name) for d in playback.output_devices()]
        for name, label in choices:
            action = devices.addAction(
                label, lambda n=name: use(n, window.session.transport.output[1])
            )
            action.setCheckable(True)
            action.setChecked(name == current)

    def fill_buffers() -> None:
        buffers.clear()
        current = window.session.transport.output[1]
        rate = window.session.transport.player.output_rate
        for size in BUFFER_SIZES:
            label = f"{size} samples ({1000 * size / rate:.0f} ms)"
            action = buffers.addAction(
                label, lambda s=size: use(window.session.transport.output[0], s)
            )
            action.setCheckable(True)
            action.setChecked(size == current)

    devices.aboutToShow.connect(fill_devices)  # devices come and go: listed when opened
    buffers.aboutToShow.connect(fill_buffers)
    window.audio_menus = {"device": devices, "buffer": buffers}


def _choice_group(window, menu, name: str, title: str, options: tuple, default) -> QActionGroup:
    """A titled group of exclusive, checkable menu items, remembered in the window's
    settings and handed to the session's render options."""
    menu.addSection(title)
    group = QActionGroup(window)
    remembered = str(window.preferences.value(f"render/{name}", default))
    for label, value in options:
        action = group.addAction(label)
        action.setCheckable(True)
        action.setData(value)
        action.setChecked(str(value) == remembered)
        menu.addAction(action)
    if group.checkedAction() is None:  # a remembered value that is no longer offered
        next(a for a in group.actions() if a.data() == default).setChecked(True)

    def chosen(action: QAction) -> None:
        window.preferences.setValue(f"render/{name}", action.data())
        window.session.set_render_option(name, action.data())

    group.triggered.connect(chosen)
    window.session.set_render_option(name, group.checkedAction().data())
    return group


def shortcuts_text(step: float, fine: float) -> str:
    """Help → Keyboard shortcuts as an HTML table (``step``, ``fine``: α's arrow-key steps)."""
    shortcuts = (  # (keys, what they do)
        ("Space", "play or stop the blend (also after typing a number)"),
        ("A / B / N", "play A / B / the blend (again: stop), from the same place"),
        ("← / →", f"α − / + {step:g} on the slider (with Shift: {fine:g})"),
        ("Page Up / Page Down, Home / End", "α by a quarter; α = 0 / 1"),
        ("Ctrl+O / Ctrl+Shift+O", "open track A / B"),
        ("Ctrl+E", "export what is heard (the blend, or the morph in morph mode)"),
        ("Ctrl+S", "save the session (everything that shapes the sound) under a name"),
        ("R", "record a performance while the blend plays (again: stop recording)"),
        ("Ctrl+Shift+E", "export the recorded performance"),
        ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo a change of track, excerpt, α or mode"),
        ("Ctrl+Shift+X", "swap A ↔ B"),
        ("Esc", "cancel the work in progress and stop playback"),
        ("F1", "this list"),
    )
    rows = "".join(
        f"<tr><td style='padding: 3px 18px 3px 0'><b>{html.escape(keys)}</b></td>"
        f"<td style='padding: 3px 0'>{html.escape(what)}</td></tr>"
        for keys, what in shortcuts
    )
    return f"<table cellspacing='0'>{rows}</table>"


def about_text(info: ModelInfo) -> str:
    """Help → About: the version, the model and its measured quality in words (HTML)."""
    summary = evaluation.load_summary(info.folder)
    measured = (
        "<p>" + "<br>".join(html.escape(line) for line in evaluation.plain_words(summary))
        if summary
        else ""
    )
    return (
        f"<b>musinterp {__version__}</b>: blend two pieces of music through a VAE's "
        f"latent space.<p>Model <b>{html.escape(info.folder.name)}</b> "
        f"({info.architecture}, {info.parameters_text}, "
        f"{info.latent_channels}-channel latent"
        f"{f', {info.time_reduction}× time reduction' if info.temporal else ''})<br>"
        f"Features: {info.mel.n_mels} mel bands at {info.mel.sample_rate} Hz<br>"
        f"Trained on: {info.training_data}<br>Folder: {info.folder}</p>{measured}"
    )
