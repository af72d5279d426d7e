"""What the window remembers in its settings file between runs: its size, the options,
α, the excerpt length and the tracks with their excerpts (restored only when the files
still exist; a damaged or hand-edited value falls back to its default)."""

from pathlib import Path

from PySide6.QtCore import QSettings

from musinterp_app import engine, limits
from musinterp_app.engine import BlendSettings
from musinterp_app.gui.session import SLOTS, Excerpt, SessionState
from musinterp_app.model import latent

VOLUME = limits.Range(0.0, 1.0)  # playback gain


def remembered_number(
    settings: QSettings, key: str, allowed: limits.Range, default: float
) -> float:
    """A number from the settings file, or ``default`` when it holds anything else
    (a hand-edited or damaged file must not start the window with a wild value)."""
    try:
        return allowed.parse(str(settings.value(key, default)))
    except limits.OptionError:
        return default


def restore(window) -> None:
    """``window``'s options, and the last session's tracks (those whose files exist)."""
    settings = window.settings
    geometry = settings.value("geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    else:
        window.resize(1200, 820)
    window.loop_box.setChecked(settings.value("loop", False, type=bool))
    volume = remembered_number(settings, "volume", VOLUME, 1.0)
    window.volume_slider.setValue(round(100 * volume))
    window.autoplay_box.setChecked(settings.value("play_on_release", True, type=bool))
    mode = settings.value("mode", latent.DEFAULT_MODE)
    blend = BlendSettings(
        alpha=remembered_number(settings, "alpha", limits.ALPHA, 0.5),
        mode=mode if mode in latent.MODES else latent.DEFAULT_MODE,
        morph=settings.value("morph", False, type=bool),
        keep_detail=settings.value("keep_detail", True, type=bool),
    )
    excerpt_s = remembered_number(settings, "excerpt_s", limits.EXCERPT_S, engine.DEFAULT_EXCERPT_S)
    tracks = []
    for slot in SLOTS:
        path = str(settings.value(f"session/{slot}", ""))
        start_s = remembered_number(settings, f"session/{slot}_start_s", limits.START_S, 0.0)
        tracks.append(Excerpt(path, start_s) if path and Path(path).is_file() else None)
    session = window.session
    session.settings, session.excerpt_s = blend, excerpt_s
    window._show_settings()
    session.apply_state(SessionState(tuple(tracks), excerpt_s, blend))


def save(window) -> None:
    """Remember ``window`` and its session for the next start."""
    settings, session = window.settings, window.session
    state = session.state()
    settings.setValue("geometry", window.saveGeometry())
    settings.setValue("alpha", state.settings.alpha)
    settings.setValue("mode", state.settings.mode)
    settings.setValue("morph", state.settings.morph)
    settings.setValue("keep_detail", state.settings.keep_detail)
    settings.setValue("excerpt_s", state.excerpt_s)
    settings.setValue("loop", window.loop_box.isChecked())
    settings.setValue("volume", session.volume)
    settings.setValue("play_on_release", window.autoplay_box.isChecked())
    for slot, excerpt in zip(SLOTS, state.tracks, strict=True):
        settings.setValue(f"session/{slot}", excerpt.path if excerpt else "")
        settings.setValue(f"session/{slot}_start_s", excerpt.start_s if excerpt else 0.0)
    settings.setValue("model_folder", str(session.engine.model.info.folder.absolute()))
