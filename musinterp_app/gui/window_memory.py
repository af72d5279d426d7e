"""What the window remembers between runs, and its session files.

The window's own options (size, loop, volume, play on release) live in its preferences
file. Everything that shapes the sound is a session (:mod:`session_file`): the window
writes ``last.musinterp-session.json`` beside its preferences when it closes and opens
it at the next start, where a track whose file is gone is left out and a damaged
file is set aside with a word; *File → Save session / Open session* keep others,
and opening one refuses, in a sentence, sources that changed since it was saved.
"""

import contextlib
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog

from musinterp_app import sidecar
from musinterp_app.base import json_input, limits
from musinterp_app.engine import CORNER_SLOTS, PAIR_SLOTS
from musinterp_app.gui import session_file
from musinterp_app.gui.session import Excerpt, SessionState
from musinterp_app.gui.session_file import SavedSession, SavedTrack

VOLUME = limits.Range(0.0, 1.0)  # playback gain
TITLE_BAR_PX = 32  # what a window manager's title bar takes of the screen's height
BLOCK_SIZE = limits.Range(64, 16384, integer=True)  # the output's buffer, in samples


def remembered_number(
    preferences: QSettings, key: str, allowed: limits.Range, default: float
) -> float:
    """A number from the preferences file, or ``default`` when it holds anything else
    (a hand-edited or damaged file must not start the window with a wild value)."""
    try:
        return allowed.parse(str(preferences.value(key, default)))
    except limits.OptionError:
        return default


def last_session_path(preferences: QSettings) -> Path:
    """Where the window keeps the session it comes back to: beside its preferences file."""
    return Path(preferences.fileName()).with_name(session_file.LAST_SESSION)


def restore(window) -> None:
    """``window``'s options, and the last session (its tracks whose files still exist)."""
    preferences = window.preferences
    geometry = preferences.value("geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    else:  # a first start: 1200 × 820, or the screen's room when it is smaller
        room = window.screen().availableGeometry()
        window.resize(min(1200, room.width()), min(820, room.height() - TITLE_BAR_PX))
    window.loop_box.setChecked(preferences.value("loop", False, type=bool))
    volume = remembered_number(preferences, "volume", VOLUME, 1.0)
    window.volume_slider.setValue(round(100 * volume))
    window.autoplay_box.setChecked(preferences.value("play_on_release", True, type=bool))
    device = str(preferences.value("audio/device", "")) or None
    block_size = remembered_number(preferences, "audio/block_size", BLOCK_SIZE, 1024)
    window.session.transport.set_output(device, int(block_size))
    window._show_settings()  # the widgets show the session's defaults until one is restored
    window.saved_tracks = {}  # the last session's tracks, kept for a slot still empty
    path = last_session_path(preferences)
    if not path.is_file():
        return
    try:
        saved = session_file.read(path)
    except (json_input.JsonInputError, session_file.SessionError) as error:
        aside = path.with_name(path.name + ".unreadable")
        with contextlib.suppress(OSError):  # kept for a look, not written over at closing
            path.replace(aside)
        window.session.notice.emit(f"The last session was not restored ({aside.name}): {error}")
        return
    # Tracks still loading, or whose files are away (a drive not mounted), are kept for the
    # next closing: a slot the user has not filled meanwhile keeps its saved track.
    window.saved_tracks = dict(saved.tracks)
    present = {s: t for s, t in saved.tracks.items() if Path(t.path).is_file()}
    apply(window, replace(saved, tracks=present))


def save(window) -> None:
    """Remember ``window``'s options and its session for the next start."""
    preferences, session = window.preferences, window.session
    preferences.setValue("geometry", window.saveGeometry())
    preferences.setValue("loop", window.loop_box.isChecked())
    preferences.setValue("volume", session.transport.volume)
    preferences.setValue("play_on_release", window.autoplay_box.isChecked())
    preferences.setValue("model_folder", str(session.engine.model.info.folder.absolute()))
    preferences.sync()
    try:
        session_file.write(last_session_path(preferences), capture(window))
    except sidecar.SidecarError as error:  # a read-only settings folder: said, not fatal
        window.session.notice.emit(f"The session could not be kept for the next start: {error}")


def capture(window) -> SavedSession:
    """Everything in ``window`` that shapes the sound, as a session file keeps it."""
    session = window.session
    tracks = {
        slot: SavedTrack(str(track.path.resolve()), track.source_sha256, round(track.start_s, 3))
        for slot, track in session.engine.tracks.items()
        if track is not None
    }
    for slot, track in window.saved_tracks.items():
        tracks.setdefault(slot, track)  # not loaded (yet): kept as it was saved
    tempo_bpm, keys = window.sync_controls.given()
    return SavedSession(
        model_folder=str(session.engine.model.info.folder.absolute()),
        tracks=tracks,
        excerpt_s=session.excerpt_s,
        blend=session.settings,
        match=window.sync_controls.sync,
        tempo_bpm=tempo_bpm,
        keys=keys,
        pad_position=window.pad.surface.position,
        pad_path=window.pad.surface.path,
        panels={name: not dock.isHidden() for name, dock in window.docks.items()},
        render=dict(session.render_options),
    )


def apply(window, saved: SavedSession) -> None:
    """Make ``window`` sound as ``saved`` says: options at once, tracks in the background
    (after a model switch, when the session was made with another model)."""
    session = window.session
    folder = Path(saved.model_folder)
    current = session.engine.model.info.folder
    if folder.resolve() != current.resolve() and (folder / "encoder.onnx").is_file():

        def then() -> None:
            forget()
            _apply_now(window, saved)

        def forget(*_why) -> None:  # once, whether the model came, failed or was cancelled
            for signal, slot in waiting:
                with contextlib.suppress(RuntimeError, TypeError):
                    signal.disconnect(slot)

        waiting = (
            (session.model_changed, then),
            (session.lanes["model"].failed, forget),
            (session.cancelled, forget),
        )
        for signal, slot in waiting:
            signal.connect(slot)
        window.load_model(str(folder))
        return
    _apply_now(window, saved)


def _apply_now(window, saved: SavedSession) -> None:
    session = window.session
    for name, value in saved.render.items():
        for action in window.choices[name].actions():
            if action.data() == value and not action.isChecked():
                action.trigger()
    pair = tuple(
        Excerpt(track.path, track.start_s) if (track := saved.tracks.get(slot)) else None
        for slot in PAIR_SLOTS
    )
    session.apply_state(SessionState(pair, saved.excerpt_s, saved.blend))  # re-renders
    window._show_settings()
    for slot in CORNER_SLOTS:
        if slot in saved.tracks:
            track = saved.tracks[slot]
            window.pad.load(slot, track.path, start_s=track.start_s, excerpt_s=saved.excerpt_s)
    window.pad.surface.set_position(*saved.pad_position)
    window.pad.surface.path = saved.pad_path
    window.pad.refresh()
    where = {slot: (track.path, track.start_s) for slot, track in saved.tracks.items()}
    window.sync_controls.restore(saved.match, where, saved.tempo_bpm, saved.keys)
    for name, shown in saved.panels.items():
        window.docks[name].setVisible(shown)


SESSION_FILTER = f"musinterp sessions (*{session_file.SUFFIX})"


def ask_and_save(window) -> None:
    """File → Save session…: ask for a name (beside the sources at first) and write it."""
    folder = window.preferences.value("last_session_folder", "") or str(_sources_folder(window))
    path, _ = QFileDialog.getSaveFileName(window, "Save the session", folder, SESSION_FILTER)
    if not path:
        return
    if not path.endswith(session_file.SUFFIX):
        path = str(Path(path).with_suffix("")) + session_file.SUFFIX
    try:
        written = session_file.write(path, capture(window))
    except sidecar.SidecarError as error:
        window._warn("Cannot save the session", str(error))
        return
    window.preferences.setValue("last_session_folder", str(written.absolute().parent))
    window.session.status.emit(f"Saved the session in {written.name}")


def ask_and_open(window) -> None:
    """File → Open session…: ask for a file, then :func:`open_session`."""
    folder = window.preferences.value("last_session_folder", "") or str(_sources_folder(window))
    path, _ = QFileDialog.getOpenFileName(window, "Open a session", folder, SESSION_FILTER)
    if path:
        open_session(window, path)


def open_session(window, path: str | Path) -> None:
    """Read ``path`` and check its sources' sha256 in the background, then make the window
    sound as it says; a file that cannot be used is refused in a sentence, and the window
    keeps what it had."""
    lane = getattr(window, "_session_lane", None)
    if lane is None:
        lane = window.session.new_lanes(("open",), window, prefix="session")["open"]
        lane.finished.connect(lambda saved: apply(window, saved))
        lane.failed.connect(lambda message: window._warn("Cannot open the session", message))
        window._session_lane = lane
    window.preferences.setValue("last_session_folder", str(Path(path).absolute().parent))
    window.session.status.emit(f"Opening the session {Path(path).name}…")
    lane.submit(lambda _cancel, _progress: session_file.checked(path))


def _sources_folder(window) -> Path:
    loaded = [t for t in window.session.tracks.values() if t is not None]
    return loaded[0].path.parent if loaded else Path.home()
