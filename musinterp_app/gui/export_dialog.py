"""File → Export…: a name that says what the export holds, the file dialog with its
types (remembered), then the session's export in the background."""

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

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


def export_name(session, *, performance: bool = False) -> str:
    """A file name that says what the export holds (without extension)."""
    a, b = (Path(t.name).stem if t else slot for slot, t in session.tracks.items())
    settings = session.settings
    if performance:
        return f"performance {a} {b}"
    if settings.morph:
        return f"morph {a} to {b}"
    return f"blend {a} {b} α{settings.alpha:.2f}"


def ask_and_export(window, *, performance: bool = False) -> None:
    """Ask ``window``'s user for a file and export the blend (or morph), or the recorded
    performance, there; the folder and the type are remembered in its settings."""
    settings = window.settings
    morph = window.session.settings.morph and not performance
    title = "Export the morph A → B" if morph else "Export the blend"
    folder = settings.value("last_export_folder", str(Path.home()))
    filters = {f"{name} (*{suffix})": (suffix, bits) for name, suffix, bits in EXPORT_TYPES}
    remembered = str(settings.value("export_type", next(iter(filters))))
    suggested = (
        export_name(window.session, performance=performance) + filters.get(remembered, (".wav",))[0]
    )
    path, chosen = QFileDialog.getSaveFileName(
        window,
        "Export the performance" if performance else title,
        str(Path(folder) / suggested),
        ";;".join(filters),
        remembered if remembered in filters else next(iter(filters)),
    )
    if path:
        suffix, bits = filters.get(chosen, (".wav", "16"))
        if Path(path).suffix.lower() not in io.OUTPUT_FORMATS:
            path += suffix  # a name the user typed without a known extension
        elif Path(path).suffix.lower() != suffix:
            bits = "16"  # the typed extension wins; its format's common sample size
        settings.setValue("last_export_folder", str(Path(path).absolute().parent))
        settings.setValue("export_type", chosen)
        window.export_to(path, sample_format=bits, performance=performance)
