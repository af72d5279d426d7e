"""The real window, offscreen: drops, slider, render, playback, export, bad input."""

import json
import random
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from support.corpus import BAD_INPUT_MESSAGES, BROKEN_MODEL_MESSAGES, NOT_A_FILE_MESSAGES
from support.window import LOAD_TIMEOUT_MS, drop, idle, load_both, make_window

from musinterp_app import engine
from musinterp_app.audio import player as playback
from musinterp_app.audio import synth
from musinterp_app.audio.cancel import Cancelled
from musinterp_app.engine import BlendSettings
from musinterp_app.gui.main_window import SLIDER_STEPS
from musinterp_app.resources import default_model_dir

pytestmark = pytest.mark.gui


def test_drop_two_files_shows_both_and_the_blend(qtbot, window, clips):
    load_both(qtbot, window, clips)
    assert window.panels["A"].title.text() == "low.flac"
    assert window.panels["B"].title.text() == "high.ogg"
    assert "7.0 s · 44100 Hz · mono" in window.panels["A"].details.text()
    assert window.panels["A"].view.image.image is not None
    assert window.session.blended_mel.shape == (512, 640)
    assert window.actions["export"].isEnabled()


def test_slider_updates_the_blend_and_ends_exactly_at_the_originals(qtbot, window, clips):
    load_both(qtbot, window, clips)
    window.slider.setValue(0)
    qtbot.waitUntil(lambda: idle(window), timeout=LOAD_TIMEOUT_MS)
    np.testing.assert_allclose(
        window.session.blended_mel, window.session.engine.tracks["A"].mel, atol=1e-5
    )
    window.slider.setValue(SLIDER_STEPS)
    qtbot.waitUntil(lambda: idle(window), timeout=LOAD_TIMEOUT_MS)
    np.testing.assert_allclose(
        window.session.blended_mel, window.session.engine.tracks["B"].mel, atol=1e-5
    )
    assert window.alpha_box.value() == 1.0


def test_alpha_and_options_travel_alone_and_keep_settings_without_a_widget(qtbot, window, clips):
    """A setting the window has no widget for (steady level, even steps) survives a slider
    move and an option change: only what moved travels to the session."""
    load_both(qtbot, window, clips)
    session = window.session
    session.settings = replace(session.settings, steady_level=False, steps=(0.0, 0.3, 1.0))
    window.slider.setValue(round(0.25 * SLIDER_STEPS))
    assert session.settings.alpha == 0.25
    window.detail_box.setChecked(not window.detail_box.isChecked())
    window.mode_box.setCurrentIndex(window.mode_box.findData("lerp"))
    settings = session.settings
    assert (settings.steady_level, settings.steps, settings.mode) == (
        False,
        (0.0, 0.3, 1.0),
        "lerp",
    )
    assert settings.keep_detail == window.detail_box.isChecked() and settings.alpha == 0.25
    qtbot.waitUntil(lambda: idle(window), timeout=LOAD_TIMEOUT_MS)


def test_rapid_slider_moves_the_last_alpha_wins(qtbot, window, clips):
    load_both(qtbot, window, clips)
    threads_before = threading.active_count()
    rng = random.Random(0)
    window.slider.setSliderDown(True)
    for _ in range(200):
        window.slider.setValue(rng.randrange(SLIDER_STEPS + 1))
        QApplication.processEvents()
    window.slider.setValue(730)
    window.slider.setSliderDown(False)
    window.slider.sliderReleased.emit()
    qtbot.waitUntil(lambda: idle(window), timeout=LOAD_TIMEOUT_MS)
    session = window.session
    expected = session.engine.blend_mel(session.heard(session.engine, BlendSettings(alpha=0.73)))
    np.testing.assert_array_equal(window.session.blended_mel, expected)
    assert "α = 0.73" in window.blend_view.plotItem.titleLabel.text
    assert window.blend_view.plotItem.titleLabel.text.endswith("· 5.0 s")  # as long as asked
    window.session.pool.wait_for_done(10)
    assert window.session.pool.active_jobs() == 0
    assert threading.active_count() <= threads_before + window.session.pool.max_workers


def test_render_streams_into_the_playback_buffer(qtbot, window, clips):
    load_both(qtbot, window, clips)
    window.session.request_render(play=False)
    qtbot.waitUntil(lambda: window.session.blend_buffer[1].complete, timeout=LOAD_TIMEOUT_MS)
    buffer = window.session.blend_buffer[1]
    assert buffer.source_samples == 640 * 256
    assert abs(len(buffer.samples) - 5.0 * buffer.output_rate) <= 64  # 5 s at the device rate
    assert np.isfinite(buffer.samples).all() and np.abs(buffer.samples).max() > 0.01


@pytest.mark.skipif(
    bool(playback.unavailable_reason()),
    reason=f"no audio output here: {playback.unavailable_reason()}",
)
def test_play_blend_through_portaudio_moves_the_cursor(qtbot, window, clips):
    load_both(qtbot, window, clips)
    window.session.play_blend()
    qtbot.waitUntil(
        lambda: window.session.player.playing and window.session.player.position_s > 0.25,
        timeout=LOAD_TIMEOUT_MS,
    )
    qtbot.waitUntil(lambda: window.blend_view.cursor.isVisible(), timeout=5000)
    assert window.blend_view.cursor.value() > 0
    window.session.stop()
    assert not window.session.player.playing
    window.session.play_track("A")
    qtbot.waitUntil(lambda: window.panels["A"].view.cursor.isVisible(), timeout=LOAD_TIMEOUT_MS)
    assert window.panels["A"].view.cursor.value() >= window.session.engine.tracks["A"].start_s
    window.session.stop()


def test_export_writes_a_normalised_wav(qtbot, window, clips, tmp_path):
    load_both(qtbot, window, clips)
    next(a for a in window.choices["level"].actions() if a.data() == "peak").trigger()
    target = tmp_path / "out" / "blend.wav"
    target.parent.mkdir()
    window.export_to(str(target))
    qtbot.waitUntil(target.exists, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: idle(window), timeout=LOAD_TIMEOUT_MS)
    audio, rate = sf.read(target, dtype="float32")
    assert rate == 44100 and len(audio) == round(640 * 256 * 44100 / 32768)  # the sources'
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(-1.0, abs=0.05)
    written = sorted(p.name for p in target.parent.iterdir())
    assert written == ["blend.wav", "blend.wav.musinterp.json"]
    record = json.loads((target.parent / "blend.wav.musinterp.json").read_text())
    assert record["render"]["level"] == "peak" and len(record["blend"]["steps"]) > 2  # even steps


def test_bad_drop_keeps_the_previous_track_and_says_why(qtbot, window, clips, tmp_path):
    load_both(qtbot, window, clips)
    before = window.session.engine.tracks["A"]
    notes = tmp_path / "notes.wav"
    notes.write_text("definitely not audio\n" * 20)
    drop(window.panels["A"], notes)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
    assert "text file, not audio" in window.last_message.text()
    assert window.session.engine.tracks["A"] is before
    assert window.panels["A"].title.text() == "low.flac"
    assert "text file" in window.status_text.text()


def test_without_audio_device_play_is_off_and_export_works(
    qtbot, shipped_model, clips, tmp_path, monkeypatch
):
    portaudio_says = "no audio output device (Error querying device -1)"
    monkeypatch.setattr(playback, "unavailable_reason", lambda: portaudio_says)
    win = make_window(shipped_model, tmp_path / "s.ini")
    qtbot.addWidget(win)
    plain = "Playback is off: no sound output was found (no sound card, or no sound server"
    assert win.status_text.text().startswith(plain)  # plain words, before anything loads
    load_both(qtbot, win, clips)
    assert not win.buttons["blend"].isEnabled()
    assert win.buttons["blend"].toolTip().startswith(plain)
    assert "querying device" not in win.buttons["blend"].toolTip()
    win.export_to(str(tmp_path / "x.wav"), morph=True)
    qtbot.waitUntil((tmp_path / "x.wav").exists, timeout=LOAD_TIMEOUT_MS)
    win.close()


def test_settings_are_remembered(qtbot, shipped_model, tmp_path):
    path = tmp_path / "remember.ini"
    first = make_window(shipped_model, path)
    qtbot.addWidget(first)
    assert first.mode_box.currentData() == "slerp"  # the default
    first.mode_box.setCurrentIndex(first.mode_box.findData("lerp"))
    first.detail_box.setChecked(False)
    first.duration_box.setValue(7.5)
    first.close()
    second = make_window(shipped_model, path)
    qtbot.addWidget(second)
    assert second.mode_box.currentData() == "lerp"
    assert not second.detail_box.isChecked()
    assert second.duration_box.value() == 7.5
    second.close()


@pytest.mark.parametrize("stored", ["nan", "-5", "1e300", "inf", "five", "0"])
def test_a_damaged_remembered_excerpt_length_falls_back_to_the_default(
    qtbot, shipped_model, tmp_path, stored
):
    path = tmp_path / "damaged.ini"
    path.write_text(f"[General]\nexcerpt_s={stored}\n")
    window = make_window(shipped_model, path)
    qtbot.addWidget(window)
    assert window.duration_box.value() == engine.DEFAULT_EXCERPT_S
    window.close()


def test_the_app_starts_and_shows_its_window_in_a_subprocess(tmp_path):
    import os
    import subprocess
    import sys

    clip = tmp_path / "a.wav"
    sf.write(clip, synth.music_like(2.0, 22050, rng=np.random.default_rng(1)), 22050)
    result = subprocess.run(
        [sys.executable, "-m", "musinterp_app", str(clip), "--exit-when-shown"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("shown")


def test_escape_cancels_a_load_and_keeps_the_old_track(qtbot, window, clips):
    load_both(qtbot, window, clips)
    before = window.session.engine.tracks["B"]
    window.load("B", str(clips[0]))
    window.cancel_all()
    assert "Cancelled" in window.status_text.text()
    window.session.pool.wait_for_done(30)
    QApplication.processEvents()
    assert window.session.engine.tracks["B"] is before
    assert window.panels["B"].title.text() == "high.ogg"


def test_escape_cancels_the_pads_and_the_tempo_panels_jobs_too(qtbot, window):
    """The panels' lanes are the session's: Esc cancels a pad job and a tempo/key job."""
    lanes = window.session.lanes
    assert {"pad load C", "pad decode", "sync estimate", "sync sync"} <= set(lanes)
    cancelled = []

    def wait_for_cancel(cancel, _progress):
        while True:
            try:
                cancel.raise_if_cancelled()
            except Cancelled:
                cancelled.append(True)
                raise
            time.sleep(0.01)

    for name in ("pad render", "sync estimate"):
        lanes[name].submit(wait_for_cancel)
    qtbot.waitUntil(lambda: window.session.pool.active_jobs() == 2, timeout=5000)
    window.cancel_all()
    assert "Cancelled" in window.status_text.text()
    qtbot.waitUntil(lambda: len(cancelled) == 2, timeout=5000)
    assert not lanes["pad render"].busy and not lanes["sync estimate"].busy
    assert window.sync_controls.status.text().startswith("Cancelled")  # not "Matching…"


@pytest.mark.qt_no_exception_capture
def test_unexpected_errors_are_logged_and_shown_once(qtbot, window, tmp_path):
    import sys

    from PySide6.QtCore import QTimer

    from musinterp_app.gui.crash_log import CrashLog

    crash_log = CrashLog(window, tmp_path / "logs")
    previous, sys.excepthook = sys.excepthook, crash_log.handle
    try:

        def broken_slot():
            raise RuntimeError("a bug in a slot")

        QTimer.singleShot(0, broken_slot)
        QTimer.singleShot(0, broken_slot)
        qtbot.waitUntil(
            lambda: (
                crash_log.path.exists() and crash_log.path.read_text().count("a bug in a slot") >= 2
            ),
            timeout=5000,
        )
    finally:
        sys.excepthook = previous
    assert "Traceback" in crash_log.path.read_text()
    assert crash_log.message is not None and "a bug in a slot" in crash_log.message.text()
    assert str(crash_log.path) in crash_log.message.text()
    assert window.isVisible()


def refuse_each(qtbot, window, paths: dict, messages: dict) -> None:
    """Drop (or open) each path on A: the window explains, and A keeps its track."""
    before = window.session.engine.tracks["A"]
    for name, path in paths.items():
        if name in ("missing.wav", "folder.wav"):
            window.load("A", str(path))  # cannot be dragged from a file manager; opened
        else:
            drop(window.panels["A"], path)
        qtbot.waitUntil(lambda: not window.session.lanes["A"].busy, timeout=LOAD_TIMEOUT_MS)
        qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
        message = window.last_message.text()
        assert messages[name] in message, (name, message)
        assert window.session.engine.tracks["A"] is before, name
        assert window.panels["A"].title.text() == before.name, name
        window.last_message.close()
        window.last_message = None


def test_every_bad_drop_keeps_the_track_and_explains(qtbot, window, clips, bad_inputs):
    load_both(qtbot, window, clips)
    refuse_each(qtbot, window, bad_inputs, BAD_INPUT_MESSAGES)


def test_dropping_a_pipe_device_socket_or_link_loop_is_refused_at_once(
    qtbot, window, clips, not_files
):
    load_both(qtbot, window, clips)
    refuse_each(qtbot, window, not_files, NOT_A_FILE_MESSAGES)


def test_a_broken_model_folder_keeps_the_current_model(qtbot, window, clips, broken_models):
    load_both(qtbot, window, clips)
    model, tracks = window.session.engine.model, dict(window.session.engine.tracks)
    for name, folder in broken_models.items():
        window.load_model(str(folder))
        qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
        message = window.last_message.text()
        assert BROKEN_MODEL_MESSAGES[name] in message, (name, message)
        assert "The previous model is still in use." in message
        assert window.session.engine.model is model and window.session.engine.tracks == tracks, name
        window.last_message.close()
        window.last_message = None
    assert window.session.engine.ready


def test_loading_a_model_folder_switches_and_keeps_the_excerpts(qtbot, window, clips):
    load_both(qtbot, window, clips)
    before = window.session.engine
    window.load_model(str(default_model_dir()))
    qtbot.waitUntil(
        lambda: window.session.engine is not before and idle(window), timeout=LOAD_TIMEOUT_MS
    )
    for slot in ("A", "B"):
        track = window.session.engine.tracks[slot]
        assert track is not before.tracks[slot] and track.path == before.tracks[slot].path
    assert window.last_message is None
    assert "loaded" in window.status_text.text()
    assert window.session.blended_mel is not None and window.actions["export"].isEnabled()


def test_export_into_a_vanished_folder_says_so_and_writes_nothing(qtbot, window, clips, tmp_path):
    load_both(qtbot, window, clips)
    window.export_to(str(tmp_path / "gone" / "blend.wav"))
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
    assert "does not exist" in window.last_message.text()
    assert not (tmp_path / "gone").exists()


def test_a_folder_that_vanishes_during_export_is_reported(qtbot, window, clips, tmp_path):
    load_both(qtbot, window, clips)
    folder = tmp_path / "exports"
    folder.mkdir()
    window.session.lanes["export"].progress.connect(
        lambda done, total: folder.rmdir() if folder.exists() else None  # at the first step
    )
    window.export_to(str(folder / "morph.wav"), morph=True)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
    assert f"Cannot save “morph.wav”: the folder {folder} does not exist" in (
        window.last_message.text()
    )
    assert not folder.exists()


def test_unusual_but_usable_drops_load(qtbot, window, usable_oddities):
    for name, path in usable_oddities.items():
        drop(window.panels["A"], path)
        qtbot.waitUntil(
            lambda p=path: (
                window.session.engine.tracks["A"] is not None
                and window.session.engine.tracks["A"].path == p
            ),
            timeout=LOAD_TIMEOUT_MS,
        )
        track = window.session.engine.tracks["A"]
        # bounded by the file (padded when under the shortest excerpt)
        expected_s = min(engine.DEFAULT_EXCERPT_S, max(track.info.duration_s, 0.5))
        assert track.duration_s == pytest.approx(expected_s, abs=1e-3), name
        assert track.mel.shape[0] == 512 and abs(track.mel.shape[1] - 128 * expected_s) <= 1, name
        assert np.isfinite(track.mel).all(), name
    assert window.last_message is None


def test_dropping_an_hour_shows_progress_and_loads(qtbot, window, hour_long):
    seen = []  # (done, total, progress bar shown, cancel button shown) as each step arrives
    window.session.lanes["A"].progress.connect(
        lambda done, total: seen.append(
            (done, total, window.progress.isVisible(), window.cancel_button.isVisible())
        )
    )
    drop(window.panels["A"], hour_long)
    qtbot.waitUntil(lambda: window.session.engine.tracks["A"] is not None, timeout=LOAD_TIMEOUT_MS)

    track = window.session.engine.tracks["A"]
    assert track.info.duration_s == pytest.approx(3600)
    whole_s = track.overview.shape[1] * track.overview_seconds_per_column
    assert whole_s == pytest.approx(3600, rel=0.01)
    assert len(seen) > 3
    assert all(shown and cancel for done, total, shown, cancel in seen if done < total)
    assert seen[-1][0] == seen[-1][1]
    assert not window.progress.isVisible()


def test_escape_during_an_hour_long_load_keeps_the_old_track(qtbot, window, clips, hour_long):
    from PySide6.QtTest import QTest

    load_both(qtbot, window, clips)
    before = window.session.engine.tracks["A"]
    steps = []
    window.session.lanes["A"].progress.connect(lambda done, total: steps.append(done))
    drop(window.panels["A"], hour_long)
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=LOAD_TIMEOUT_MS)
    QTest.keyClick(window, Qt.Key.Key_Escape)

    assert window.status_text.text() == "Cancelled."
    assert window.session.pool.wait_for_done(10)  # the decoder stopped at its next block
    QApplication.processEvents()
    assert window.session.engine.tracks["A"] is before
    assert window.panels["A"].title.text() == "low.flac"
    assert not window.progress.isVisible()
