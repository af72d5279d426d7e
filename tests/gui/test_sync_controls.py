"""Tempo and key sync in the window: readouts, toggles, overrides, undo."""

import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from support.engines import engine_with
from support.music import known_clip

from musinterp_app.audio import analysis, synth
from musinterp_app.audio.analysis import Key, Tempo
from musinterp_app.audio.cancel import Cancelled, CancelToken
from musinterp_app.engine import Engine, load_track
from musinterp_app.gui.sync_controls import SyncControls, _estimate_each
from musinterp_app.gui.workers import JobPool, new_lanes

pytestmark = pytest.mark.gui
RATE = 32768


@pytest.fixture
def unestimated(qtbot, shipped_model, tmp_path):
    """The controls with A (100 BPM, C major) and B (121 BPM, D minor) loaded, nothing
    estimated yet."""
    clips = {
        slot: known_clip(bpm, tonic, minor, RATE, duration_s=6.0, lead_in_s=0.2).samples
        for slot, (bpm, tonic, minor) in {"A": (100.0, 0, False), "B": (121.0, 2, True)}.items()
    }
    holder = {"engine": engine_with(shipped_model, clips, folder=tmp_path, rate=RATE)}
    pool = JobPool()
    widget = SyncControls(
        lambda: holder["engine"],
        lambda names, parent: new_lanes(pool, names, parent),
        lambda e: holder.update(engine=e),
    )
    qtbot.addWidget(widget)
    widget.show()
    widget.holder = holder
    yield widget
    pool.shutdown()


@pytest.fixture
def controls(qtbot, unestimated):
    with qtbot.waitSignal(unestimated.lanes["estimate"].finished, timeout=30_000):
        unestimated.refresh()
    return unestimated


def test_fields_show_each_tracks_tempo_and_key_and_how_sure(qtbot, controls):
    assert controls.tempo_fields["A"].value() == pytest.approx(100.0, rel=0.02)
    assert controls.key_fields["A"].currentText() == "C major"
    assert controls.key_fields["B"].currentText() == "D minor"
    assert controls.readouts["A"].text() == "A: tempo clear, key clear"
    assert controls.readouts["C"].text() == "C: –"
    assert not controls.buttons["C"]["double"].isEnabled()
    assert not controls.tempo_fields["C"].isEnabled()
    with qtbot.waitSignal(controls.described, check_params_cb=lambda slot, _w: slot == "B") as told:
        controls.refresh()
    assert told.args[1].endswith("BPM · D minor")


def test_match_tempo_then_half_then_undo(qtbot, controls):
    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.tempo_box.setChecked(True)
    fit = controls.holder["engine"].tracks["B"].alignment
    assert fit.sync == ("tempo",) and fit.speed == pytest.approx(100 / 121, rel=0.03)
    assert "Fitted to A: B ×0.8" in controls.status.text()

    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.buttons["B"]["half"].click()
    assert controls.readouts["B"].text().startswith("B: tempo given")
    fit = controls.holder["engine"].tracks["B"].alignment
    assert fit.tempo.bpm == pytest.approx(60.5, rel=0.02)
    assert fit.speed == pytest.approx(100 / 60.5, rel=0.03)  # ÷2 takes effect: not folded

    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.buttons["A"]["relative"].click()
    assert controls.key_fields["A"].currentText() == "A minor"
    assert controls.readouts["A"].text().endswith("key given")

    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.tempo_box.setChecked(False)
    assert controls.holder["engine"].tracks["B"].alignment is None
    assert controls.status.text() == "Tracks as loaded"


def test_a_new_track_is_fitted_again_while_matching_is_on(qtbot, controls, tmp_path):
    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.key_box.setChecked(True)
    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.buttons["B"]["relative"].click()  # given by hand: F major
    clip = known_clip(90.0, 7, False, RATE, duration_s=6.0)  # G major
    sf.write(tmp_path / "new.wav", clip.samples, RATE)
    engine = controls.holder["engine"]
    engine.set_track("B", load_track(tmp_path / "new.wav", engine.model))
    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.track_changed("B")
    fit = controls.holder["engine"].tracks["B"].alignment
    assert fit.key.name == "G major" and fit.semitones == 5  # G → C, the estimate again
    qtbot.waitUntil(lambda: controls.key_fields["B"].currentText() == "G major", timeout=30_000)
    assert "given" not in controls.readouts["B"].text()


def test_an_estimate_stops_between_tracks_when_cancelled(shipped_model, tmp_path):
    clip = synth.music_like(2.0, RATE, rng=np.random.default_rng(1), root_midi=60)
    engine = engine_with(shipped_model, {"A": clip, "B": clip}, folder=tmp_path, rate=RATE)
    token, asked = CancelToken(), []

    def estimates_of(track):
        asked.append(track.name)
        token.cancel()  # a newer request came while the first track was estimated
        return Engine.estimates_of(engine, track)

    engine.estimates_of = estimates_of
    tracks = {track.content: track for track in (engine.tracks["A"], engine.tracks["B"])}
    with pytest.raises(Cancelled):
        _estimate_each(engine, tracks, token)
    assert asked == ["A.wav"]


def test_a_swap_while_estimating_files_each_estimate_under_its_track(
    qtbot, unestimated, monkeypatch
):
    """The running estimate goes on through a swap (the same contents are loaded) and
    estimates the tracks it was asked for, not what their slots hold after the swap."""
    gate, real = threading.Event(), analysis.estimate_key
    monkeypatch.setattr(
        analysis, "estimate_key", lambda samples, rate: gate.wait(30) and real(samples, rate)
    )
    controls, tracks = unestimated, unestimated.holder["engine"].tracks
    controls.refresh()  # the estimate job waits in A's key
    tracks["A"], tracks["B"] = tracks["B"], tracks["A"]  # as Session.swap does
    for slot in ("A", "B"):
        controls.track_changed(slot)
    with qtbot.waitSignal(controls.lanes["estimate"].finished, timeout=30_000):
        gate.set()
    assert controls.key_fields["A"].currentText() == "D minor"
    assert controls.key_fields["B"].currentText() == "C major"


def test_a_new_track_is_estimated_once_while_matching_is_on(qtbot, controls, tmp_path, monkeypatch):
    """The estimate job and the fit (both asked for at once) share one estimate."""
    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.tempo_box.setChecked(True)
    calls, real = [], analysis.estimate_key

    def slow_key(samples, rate):
        calls.append(len(samples))
        time.sleep(1.0)  # long enough for the other job to ask for the same excerpt
        return real(samples, rate)

    monkeypatch.setattr(analysis, "estimate_key", slow_key)
    clip = known_clip(90.0, 7, False, RATE, duration_s=6.0)
    sf.write(tmp_path / "new.wav", clip.samples, RATE)
    engine = controls.holder["engine"]
    engine.set_track("B", load_track(tmp_path / "new.wav", engine.model))
    with qtbot.waitSignals([controls.synced, controls.lanes["estimate"].finished], timeout=60_000):
        controls.track_changed("B")
    assert len(calls) == 1
    assert controls.key_fields["B"].currentText() == "G major"


def test_the_estimate_cache_keeps_the_excerpts_read_most_recently(
    shipped_model, tmp_path, monkeypatch
):
    """A's estimate, asked for by every fit, stays while many newer excerpts come and go."""
    estimated = []
    monkeypatch.setattr(analysis, "estimate_tempo", lambda _s, _r: Tempo(120.0, 0.0, 0.0, 1.0))
    monkeypatch.setattr(
        analysis, "estimate_key", lambda _s, _r: estimated.append(1) or Key(0, False)
    )
    sf.write(tmp_path / "A.wav", known_clip(100.0, 0, False, RATE, duration_s=2.0).samples, RATE)
    engine = Engine(shipped_model)
    engine.set_track("A", load_track(tmp_path / "A.wav", shipped_model))
    engine.estimates("A")
    newer = 40  # more than the cache keeps
    for start in range(newer):
        engine.set_track("B", replace(engine.tracks["A"], start_s=start + 1.0))
        engine.estimates("B")
        engine.estimates("A")
    assert len(estimated) == 1 + newer


def test_a_typed_tempo_and_a_chosen_key_are_matched_as_given(qtbot, controls):
    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.tempo_box.setChecked(True)
    controls.tempo_fields["B"].setValue(200.0)
    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.tempo_fields["B"].editingFinished.emit()  # as Enter does
    fit = controls.holder["engine"].tracks["B"].alignment
    assert fit.tempo.bpm == pytest.approx(200.0) and fit.speed == pytest.approx(0.5, rel=0.03)

    with qtbot.waitSignal(controls.synced, timeout=60_000):
        controls.key_box.setChecked(True)
    field = controls.key_fields["B"]
    with qtbot.waitSignal(controls.synced, timeout=60_000):
        field.setCurrentIndex(field.findText("E major"))
        field.activated.emit(field.currentIndex())  # as a choice from the list does
    fit = controls.holder["engine"].tracks["B"].alignment
    assert fit.key.name == "E major" and fit.semitones == -4  # E → C
    assert controls.readouts["B"].text() == "B: tempo given, key given"
