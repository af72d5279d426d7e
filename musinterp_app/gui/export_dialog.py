"""File → Export…: a name that says what the export holds, the file dialog with its types
and the export's sample rate (both remembered), then the session's export in the
background."""

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel

from musinterp_app.audio import io

# The dialog's file types: (title, extension, sample format).
EXPORT_TYPES = (
    ("WAV, 16-bit", ".wav", "16"),
    ("WAV, 24-bit", ".wav", "24"),
    ("WAV, 32-bit float", ".wav", "float"),
    ("FLAC, 16-bit", ".flac", "16"),
    ("FLAC, 24-bit", ".flac", "24"),
    ("Ogg Vorbis", ".ogg", "16"),
)
FILTERS = {f"{name} (*{suffix})": (suffix, bits) for name, suffix, bits in EXPORT_TYPES}


def export_name(session, *, performance: bool = False) -> str:
    """A file name that says what the export holds (without extension)."""
    a, b = (Path(t.name).stem if t else slot for slot, t in session.tracks.items())
    settings = session.settings
    if performance:
        return f"performance {a} {b}"
    if settings.morph:
        return f"morph {a} to {b}"
    return f"blend {a} {b} α{settings.alpha:.2f}"


def start_folder(window) -> Path:
    """Where the dialog opens: the last export's folder, else track A's (else B's, else home)."""
    remembered = window.preferences.value("last_export_folder", "")
    if remembered and Path(str(remembered)).is_dir():
        return Path(str(remembered))
    loaded = [t for t in window.session.tracks.values() if t is not None]
    return loaded[0].path.parent if loaded else Path.home()


def written_type(path: str, chosen_filter: str) -> tuple[str, str, str]:
    """``(path, sample format, the type's filter)`` of what will be written: a name typed
    without a known extension takes the chosen type's; a typed extension wins over the
    chosen type (with its format's common sample size)."""
    suffix, bits = FILTERS.get(chosen_filter, (".wav", "16"))
    typed = Path(path).suffix.lower()
    if typed not in io.OUTPUT_FORMATS:
        return path + suffix, bits, chosen_filter
    if typed != suffix:
        bits = "16"
    kind = next(f for f, (s, b) in FILTERS.items() if s == typed and b == bits)
    return path, bits, kind


class ExportDialog(QFileDialog):
    """The save dialog with a *Sample rate* row under the file types (Qt's own dialog:
    a native one cannot take it)."""

    def __init__(self, window, title: str, suggested: Path) -> None:
        super().__init__(window, title, str(suggested), ";;".join(FILTERS))
        self.setOption(QFileDialog.Option.DontUseNativeDialog)
        self.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        self.rate = QComboBox(self)
        group = window.choices["rate"]
        for action in group.actions():
            label = action.text().replace("&", "")
            if action.data() == 0 and window.session.ready:
                label += f" ({window.session.export_rate()} Hz)"
            self.rate.addItem(label, action)
            if action.isChecked():
                self.rate.setCurrentIndex(self.rate.count() - 1)
        self.rate.setToolTip(
            "The file's sample rate. The sources' rate keeps what they hold above the model's "
            "band (16.4 kHz), mixed as the blend mixes them."
        )
        layout = self.layout()
        row = layout.rowCount()
        layout.addWidget(QLabel("Sample rate:"), row, 0)
        layout.addWidget(self.rate, row, 1)

    def chosen_rate_action(self):
        return self.rate.currentData()


def ask_and_export(window, *, performance: bool = False) -> None:
    """Ask ``window``'s user for a file and export the blend (or morph), or the recorded
    performance, there; the folder, the type written and the rate are remembered."""
    preferences = window.preferences
    morph = window.session.settings.morph and not performance
    title = "Export the morph A → B" if morph else "Export the blend"
    remembered = str(preferences.value("export_type", next(iter(FILTERS))))
    remembered = remembered if remembered in FILTERS else next(iter(FILTERS))
    suggested = export_name(window.session, performance=performance) + FILTERS[remembered][0]
    dialog = ExportDialog(
        window, "Export the performance" if performance else title, start_folder(window) / suggested
    )
    dialog.selectNameFilter(remembered)
    if not dialog.exec() or not dialog.selectedFiles():
        return
    path, bits, kind = written_type(dialog.selectedFiles()[0], dialog.selectedNameFilter())
    dialog.chosen_rate_action().trigger()  # the Render menu's choice follows the dialog's
    preferences.setValue("last_export_folder", str(Path(path).absolute().parent))
    preferences.setValue("export_type", kind)
    window.export_to(path, sample_format=bits, performance=performance)
