"""Drag the sound out of the window: the blend view, or A's or B's excerpt, dropped on a DAW
or a folder hands over a WAV rendered at export quality, named as an export would be, with
its sidecar beside it.

The file is rendered ahead of the drag, in the background, as soon as the mouse comes over
the view (and again whenever what it would hold changes), so the UI never waits, even for a
600-s excerpt: a drag that starts before the file is ready says how far along it is and
hands nothing over. Renders live in one temporary folder per window, removed when the
window closes; one that no longer matches the sound is removed when the next is made. What
a drag hands over is a copy kept in the app's data folder (``dragged/``), since a DAW may use
a dropped file where it lies.
"""

import contextlib
import itertools
import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, QStandardPaths, Qt, QUrl
from PySide6.QtGui import QDrag

from musinterp_app import sidecar
from musinterp_app.engine import BlendSettings, Settings
from musinterp_app.gui.export_dialog import export_name

SOURCES = ("blend", "A", "B")
DRAG_FORMAT = "24"  # WAV, 24-bit: what a DAW imports without converting
DRAGGED_LOCATION = QStandardPaths.StandardLocation.AppDataLocation  # + "/dragged": kept


class DragOut(QObject):
    """Files to drag out of ``window``'s views, rendered ahead on a session lane."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.folder = Path(tempfile.mkdtemp(prefix="musinterp-drag-"))
        self.ready: dict[str, tuple[tuple, Path]] = {}  # source → (what it holds, its file)
        self.pending: dict[str, tuple] = {}  # source → what the running render will hold
        self.progress: dict[str, tuple[int, int]] = {}
        self._numbers = itertools.count()  # each render its own subfolder
        self.kept_folder = Path(QStandardPaths.writableLocation(DRAGGED_LOCATION)) / "dragged"
        self.kept: dict[Path, Path] = {}  # a render → its copy handed over
        self.lanes = window.session.new_lanes(SOURCES, self, prefix="drag")
        for source, lane in self.lanes.items():
            lane.finished.connect(lambda result, s=source: self._rendered(s, result))
            lane.failed.connect(lambda message, s=source: self._failed(s, message))
            lane.progress.connect(lambda done, total, s=source: self._progressed(s, done, total))
        window.session.cancelled.connect(self._cancelled)
        for source in SOURCES:
            view = window.views[source]
            view.drag_source = source
            view.setToolTip(
                f"Drag {'the blend' if source == 'blend' else source + ' (its excerpt)'} onto "
                "a DAW or a folder: a 24-bit WAV at export quality"
            )
            view.drag_hover.connect(self.prepare)
            view.drag_started.connect(self.start_drag)

    def request(self, source: str) -> tuple[tuple, str, Settings] | None:
        """What ``source``'s file would hold now: (a key naming it, the file name, the
        settings), or None while its tracks are not loaded."""
        session = self.window.session
        if not session.ready:
            return None
        if source == "blend":
            settings, name = session.settings, export_name(session)
        else:  # a track alone: the exact source, as α = 0 or 1 with keep detail
            track = session.tracks[source]
            end_s = track.start_s + track.excerpt_s
            name = f"{Path(track.name).stem} {track.start_s:.1f}-{end_s:.1f} s"
            settings = BlendSettings(alpha=0.0 if source == "A" else 1.0, keep_detail=True)
        contents = tuple(t.content for t in session.tracks.values())
        fits = tuple(t.alignment for t in session.tracks.values())
        options = dict(session.render_options) | {"rate": session.export_rate()}
        key = (source, settings, contents, fits, tuple(sorted(options.items())), session.engine)
        return key, name + ".wav", settings

    def prepare(self, source: str) -> None:
        """Render ``source``'s file in the background unless it is ready or under way."""
        wanted = self.request(source)
        if wanted is None:
            return
        key, name, settings = wanted
        ready = self.ready.get(source)
        if (ready is not None and ready[0] == key) or self.pending.get(source) == key:
            return
        session = self.window.session
        engine = session.engine
        options = session.export_options(DRAG_FORMAT)
        folder = self.folder / f"{source}-{next(self._numbers)}"
        self.pending[source] = key

        def work(cancel, progress):
            folder.mkdir()
            heard = session.heard(engine, settings) if source == "blend" else settings
            path = engine.export(folder / name, heard, options, cancel=cancel, progress=progress)
            return key, path

        self.progress[source] = (0, 1)
        self.lanes[source].submit(work)

    def _cancelled(self) -> None:
        """Esc cancelled the renders (the lanes are the session's): none is under way now, so
        the next hover or drag starts them again."""
        self.pending.clear()
        self.progress.clear()

    def _rendered(self, source: str, result: tuple[tuple, Path]) -> None:
        key, path = result
        if self.pending.get(source) == key:
            del self.pending[source]
        old = self.ready.get(source)
        self.ready[source] = (key, path)
        if old is not None and old[1] != path:
            shutil.rmtree(old[1].parent, ignore_errors=True)
        now = self.request(source)
        if now is not None and now[0] != key:
            self.prepare(source)  # the sound changed while this one rendered

    def _failed(self, source: str, message: str) -> None:
        self.pending.pop(source, None)
        self.window.session.status.emit(f"Cannot prepare the file to drag: {message}")

    def _progressed(self, source: str, done: int, total: int) -> None:
        self.progress[source] = (done, total)

    def file_for(self, source: str) -> Path | None:
        """``source``'s file if it holds what the view shows now, else None."""
        wanted, ready = self.request(source), self.ready.get(source)
        if wanted is None or ready is None or ready[0] != wanted[0] or not ready[1].is_file():
            return None
        return ready[1]

    def start_drag(self, source: str) -> None:
        """The mouse dragged ``source``'s view: hand its file over, or say how far along
        it is (and make sure it is being made)."""
        path = self.file_for(source)
        session = self.window.session
        if path is None:
            self.prepare(source)
            if self.request(source) is None:
                return
            done, total = self.progress.get(source, (0, 1))
            session.status.emit(
                f"Preparing the file to drag: {100 * done // max(total, 1)} % — drag again "
                "in a moment"
            )
            return
        path = self._kept(path)
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        drag = QDrag(self.window.views[source])
        drag.setMimeData(mime)
        drag.exec(Qt.DropAction.CopyAction)
        session.status.emit(
            f"Dragged {path.name} (its {sidecar.path_for(path).name} is beside it: "
            "Export keeps both)"
        )

    def _kept(self, path: Path) -> Path:
        """A copy of ``path`` (and its sidecar) in the dragged-files folder, which is never
        emptied: a DAW may keep using a dropped file where it lies rather than copy it, so
        what was handed over must outlive the renders (removed as the sound changes). Made
        once per render: dragging the same sound again hands over the same copy."""
        if path in self.kept:
            return self.kept[path]
        self.kept_folder.mkdir(parents=True, exist_ok=True)
        kept, number = self.kept_folder / path.name, 1
        while kept.exists():  # an earlier drag of another sound with the same name
            number += 1
            kept = self.kept_folder / f"{path.stem} {number}{path.suffix}"
        shutil.copyfile(sidecar.path_for(path), sidecar.path_for(kept))
        shutil.copyfile(path, kept)
        self.kept[path] = kept
        return kept

    def close(self) -> None:
        """Remove every file made for dragging (the window is closing)."""
        for lane in self.lanes.values():
            lane.cancel()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.folder)
