"""The window's side panels (docks, shown from the View menu): tempo and key matching
(:class:`SyncControls`) and the four-corner pad (:class:`PadPanel`), wired to the session;
the blend view shows the pad's blend while the puck moves and the slider's again once the
pad is closed or the slider's blend plays."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QScrollArea

from musinterp_app.gui.pad import PadPanel
from musinterp_app.gui.sync_controls import SyncControls

PANELS = (("sync", "Tempo and key"), ("pad", "Four-corner pad"))
# What a panel keeps when the window is small: beside the window's own minimum (764 px) it
# fits a 1024 × 700 screen; a panel wider or taller than this scrolls.
PANEL_MIN_WIDTH_PX = 240
PANEL_MIN_HEIGHT_PX = 160


def build(window) -> None:
    """``window.sync_controls``, ``window.pad`` and ``window.docks`` (by name), connected."""
    session = window.session
    window.sync_controls = SyncControls(
        lambda: session.engine,
        lambda names, parent: session.new_lanes(names, parent, prefix="sync"),
        session.adopt,
    )
    window.pad = PadPanel(
        lambda: session.engine,
        lambda names, parent: session.new_lanes(names, parent, prefix="pad"),
        session.set_corner,
        lambda: session.settings,
    )
    session.cancelled.connect(window.pad.cancelled)
    session.cancelled.connect(window.sync_controls.cancelled)
    window.pad.rendered.connect(session.transport.play_pad)  # a drawn path's morph
    window.pad.play_live.connect(session.transport.play_pad_live)
    window.pad.puck_moved.connect(session.transport.move_puck)
    window.pad.track_loaded.connect(window.sync_controls.track_changed)  # its tempo and key
    window.pad.blended.connect(lambda log_mel: show_pad_blend(window, log_mel))
    window.sync_controls.described.connect(
        lambda slot, words: slot in window.panels and window.panels[slot].tempo_key.setText(words)
    )  # C and D are named on the pad
    window.docks = {}
    widgets = {"sync": window.sync_controls, "pad": window.pad}
    for name, title in PANELS:
        dock = QDockWidget(title, window, objectName=name)
        dock.setWidget(_scrolling(widgets[name]))
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        dock.hide()
        window.docks[name] = dock
    window.showing_pad = False  # the blend view shows the pad's blend, not the slider's
    window.docks["pad"].visibilityChanged.connect(lambda _shown: show_slider_blend(window))


def _scrolling(panel) -> QScrollArea:
    """``panel`` in a scroll area: a narrow or short window keeps its size when the panel
    opens (the panel scrolls instead of pushing the window wider than the screen)."""
    area = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
    area.setWidget(panel)
    area.setMinimumWidth(PANEL_MIN_WIDTH_PX)
    area.setMinimumHeight(PANEL_MIN_HEIGHT_PX)
    return area


def show_pad_blend(window, log_mel) -> None:
    """The puck's blend ``[n_mels, frames]``, live while it is dragged, in the blend view."""
    config = window.session.engine.config
    window.blend_view.show_mel(log_mel, config, config.hop_length / config.sample_rate)
    window.blend_view.setTitle("Four-corner pad blend", color="#dddddd", size="10pt")
    window.showing_pad = True
    window.blend_drawn.emit()


def show_slider_blend(window) -> None:
    """Back to the slider's blend in the blend view where it showed the pad's, once the pad
    is closed or something else than the pad plays: the title follows what plays."""
    session = window.session
    pad_closed = window.docks["pad"].isHidden()
    left = session.transport.playing != "pad" and (pad_closed or session.transport.playing)
    if window.showing_pad and left and session.blended_mel is not None:
        window._blend_decoded()
