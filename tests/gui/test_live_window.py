"""The blend playing live in the window, on the real JACK dummy device: moves never restart
it, the sound follows α, joins stay continuous, A / B / blend switch in place, and Record
captures the α that was applied, which exports and renders again to the same bytes."""

import itertools
import json

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from support.commands import musinterp
from support.window import LOAD_TIMEOUT_MS, idle, load_both

from musinterp_app.audio import mel, synth
from musinterp_app.audio import player as playback
from musinterp_app.engine import live as live_module
from musinterp_app.engine.settings import curve_frames
from musinterp_app.gui.main_window import SLIDER_STEPS

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(
        bool(playback.unavailable_reason()),
        reason=f"no audio output here: {playback.unavailable_reason()}",
    ),
]
LEFT = Qt.MouseButton.LeftButton


def start_live(qtbot, window, clips, *, alpha: float = 0.5, capture: bool = False):
    load_both(qtbot, window, clips)
    window.loop_box.setChecked(True)
    window.slider.setValue(round(alpha * SLIDER_STEPS))
    qtbot.waitUntil(lambda: idle(window), timeout=LOAD_TIMEOUT_MS)
    window.session.transport.live.capture = capture
    qtbot.mouseClick(window.buttons["blend"], LEFT)
    qtbot.waitUntil(
        lambda: (
            window.session.transport.live.renderer is not None
            and window.session.transport.player.sounding_since
        ),
        timeout=LOAD_TIMEOUT_MS,
    )
    window.slider.setSliderDown(True)  # a hand on the slider
    return window.session.transport.live.playback


def test_slider_moves_never_restart_playback_or_move_the_playhead_back(qtbot, window, clips):
    live = start_live(qtbot, window, clips)
    period_s = live.renderer.period * 256 / 32768
    rng = np.random.default_rng(0)
    positions, reads = [], []
    for _ in range(20):
        window.slider.setValue(int(rng.integers(0, SLIDER_STEPS + 1)))
        qtbot.wait(120)
        positions.append(window.session.transport.live.position_s())
        reads.append(live.feed.read)
    assert (
        window.session.transport.live.playback is live
        and window.session.transport.playing == "blend"
    )
    assert np.all(np.diff(reads) > 0)  # the device was fed all along
    for before, after in itertools.pairwise(positions):
        wrapped = before > period_s - 0.5 and after < 0.5  # the loop's end: from the start
        assert after > before or wrapped, (before, after)
    assert live.renderer.target == (pytest.approx(window.session.settings.alpha),)


def band_profile(audio: np.ndarray) -> np.ndarray:
    """Mean normalised log-mel per band of ``audio`` (model rate) ``[n_mels]``."""
    config = mel.MelConfig()
    return mel.log_mel(audio, config).mean(axis=1)


def test_after_a_move_toward_b_the_sound_moves_toward_b(qtbot, window, clips):
    live = start_live(qtbot, window, clips, alpha=0.0, capture=True)
    qtbot.wait(1000)
    before_chunks = len(live.captured)
    window.slider.setValue(SLIDER_STEPS)  # all the way to B
    qtbot.wait(1500)
    audio = [np.concatenate(live.captured[:before_chunks])]
    audio.append(np.concatenate(live.captured[before_chunks + 2 :]))
    a, b = (window.session.tracks[slot].samples for slot in ("A", "B"))
    distance = [
        [np.abs(band_profile(part) - band_profile(source)).mean() for source in (a, b)]
        for part in audio
    ]
    (to_a_before, to_b_before), (to_a_after, to_b_after) = distance
    assert to_a_before < to_b_before and to_b_after < to_a_after
    assert to_b_after < to_b_before


def test_no_run_of_zeros_while_the_slider_moves(qtbot, window, clips):
    live = start_live(qtbot, window, clips, capture=True)
    rng = np.random.default_rng(1)
    alpha = 0.5
    for _ in range(40):
        alpha = float(np.clip(alpha + rng.normal(0, 0.1), 0, 1))
        window.slider.setValue(round(alpha * SLIDER_STEPS))
        qtbot.wait(40)
    audio = np.concatenate(live.captured)
    silent = np.flatnonzero(np.abs(audio) < 1e-6)
    runs = np.split(silent, np.flatnonzero(np.diff(silent) > 1) + 1) if len(silent) else []
    assert max((len(run) for run in runs), default=0) < 64


def test_a_and_b_and_the_blend_switch_at_the_same_place(qtbot, window, clips):
    start_live(qtbot, window, clips)
    window.slider.setSliderDown(False)
    qtbot.wait(1500)
    session = window.session
    at_s = session.transport.live.position_s()
    qtbot.mouseClick(window.buttons["A"], LEFT)
    qtbot.waitUntil(lambda: session.transport.playing == "A", timeout=LOAD_TIMEOUT_MS)
    assert session.transport.player.position_s == pytest.approx(at_s, abs=0.4)  # not from 0
    assert window.buttons["A"].isChecked() and not session.transport.live.running
    qtbot.wait(500)
    at_s = session.transport.player.position_s
    qtbot.mouseClick(window.buttons["blend"], LEFT)
    qtbot.waitUntil(lambda: session.transport.live.renderer is not None, timeout=LOAD_TIMEOUT_MS)
    assert session.transport.live.renderer.origin * 256 / 32768 == pytest.approx(at_s, abs=0.4)


def test_record_captures_the_applied_alpha_and_exports_what_was_heard(
    qtbot, window, clips, tmp_path
):
    live = start_live(qtbot, window, clips, alpha=0.2)
    qtbot.keyClick(window, Qt.Key.Key_R)  # Record
    assert window.record_button.isChecked()
    controls = []
    for alpha in (0.9, 0.1, 0.6, 0.6, 1.0):
        window.slider.setValue(round(alpha * SLIDER_STEPS))
        controls.append(window.session.settings.alpha)
        qtbot.wait(300)
    window.record_button.click()
    performance = window.session.transport.live.performance
    assert performance is not None and window.actions["export_performance"].isEnabled()
    curve = np.asarray(performance.curve)
    assert curve[-1, 0] > 1.0  # seconds of it
    # The curve is what the renderer applied, ramps included (not the control's jumps).
    frames = curve_frames(performance, 256 / 32768)
    applied = np.interp(np.arange(frames) * 256 / 32768, curve[:, 0], curve[:, 1])
    renderer = live.renderer
    first = np.flatnonzero(
        [
            np.allclose(renderer.alpha[k : k + frames], applied, atol=1e-5)
            for k in range(renderer.done - frames + 1)
        ]
    )
    assert len(first) >= 1
    changes = np.flatnonzero(np.diff(curve[:, 1]) != 0)  # every change of α is a ramp
    ramp_s = live_module.RAMP_FRAMES * 256 / 32768
    assert len(changes) >= 4 and np.all(np.diff(curve[:, 0])[changes] >= ramp_s - 1e-9)
    window.slider.setSliderDown(False)
    window.session.transport.stop()
    target = tmp_path / "performance.wav"
    with qtbot.waitSignal(window.session.exported, timeout=LOAD_TIMEOUT_MS):
        window.export_to(str(target), performance=True)
    record = json.loads((tmp_path / "performance.wav.musinterp.json").read_text())
    assert record["blend"]["curve"] == [list(point) for point in performance.curve]
    again = tmp_path / "again.wav"
    result = musinterp("render", tmp_path / "performance.wav.musinterp.json", "-o", again)
    assert result.returncode == 0, result.stderr
    assert again.read_bytes() == target.read_bytes()


def test_the_pads_puck_plays_live_and_its_moves_are_recorded(qtbot, window, clips, tmp_path):
    load_both(qtbot, window, clips)
    for slot, root in {"C": 60, "D": 67}.items():
        clip = synth.music_like(7.0, 32768, rng=np.random.default_rng(root), root_midi=root)
        sf.write(tmp_path / f"{slot}.wav", clip, 32768)
        with qtbot.waitSignal(window.pad.track_loaded, timeout=LOAD_TIMEOUT_MS):
            window.pad.load(slot, tmp_path / f"{slot}.wav")
    session, surface = window.session, window.pad.surface
    surface.set_position(0.2, 0.2)
    surface.released.emit(0.2, 0.2)  # the puck let go: its blend plays live
    qtbot.waitUntil(lambda: session.transport.live.renderer is not None, timeout=LOAD_TIMEOUT_MS)
    assert session.transport.playing == "pad" and session.transport.live.renderer.target == (
        0.2,
        0.2,
    )
    window.record_button.click()
    for x, y in ((0.8, 0.2), (0.8, 0.9), (0.1, 0.5)):
        surface.set_position(x, y)
        surface.moved.emit(x, y)  # dragging: followed while it plays, never restarted
        qtbot.wait(300)
        assert session.transport.live.renderer.target == (x, y)
    window.record_button.click()
    performance = session.transport.live.performance
    assert performance.curve[-1][1:] == (pytest.approx(0.1), pytest.approx(0.5))
    assert {tuple(point[1:]) for point in performance.curve} >= {(0.8, 0.2), (0.8, 0.9)}
    window.detail_box.click()  # an option changed while the pad plays: the pad takes it
    qtbot.waitUntil(lambda: not session.transport.live.renderer.settings.keep_detail, timeout=5000)
    assert (
        session.transport.playing == "pad"
        and session.transport.live.running
        and not session.transport.live.error
    )
    session.transport.stop()


def test_record_starts_the_blend_and_stop_or_esc_end_the_recording(qtbot, window, clips):
    load_both(qtbot, window, clips)
    session = window.session
    qtbot.waitUntil(lambda: idle(window), timeout=LOAD_TIMEOUT_MS)
    window.record_button.click()  # nothing plays: Record starts the blend, recorded from 0
    qtbot.waitUntil(lambda: session.transport.live.renderer is not None, timeout=LOAD_TIMEOUT_MS)
    assert session.transport.playing == "blend" and window.buttons["blend"].text() == "■ Blend"
    assert window.record_button.text() == "● Recording"
    qtbot.wait(700)
    window.buttons["stop"].click()  # Stop ends the recording: the take is kept
    assert not window.record_button.isChecked() and not session.transport.live.recording
    assert session.transport.live.performance is not None
    assert (
        "Recorded" in window.status_text.text()
        and "Export performance" in window.status_text.text()
    )
    assert window.actions["export_performance"].isEnabled()
    first_take = session.transport.live.performance
    qtbot.mouseClick(window.buttons["blend"], LEFT)  # playing again records nothing new
    qtbot.waitUntil(lambda: session.transport.live.renderer is not None, timeout=LOAD_TIMEOUT_MS)
    window.record_button.click()
    assert window.buttons["blend"].text() == "■ Blend"  # still says what plays
    qtbot.wait(500)
    window.cancel_all()  # Esc: stops the sound and the recording, and says so
    assert window.status_text.text() == "Cancelled." and not window.record_button.isChecked()
    assert session.transport.live.performance is not first_take
