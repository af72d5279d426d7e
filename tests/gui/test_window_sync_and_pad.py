"""Tempo/key matching and the four-corner pad in the real window."""

import numpy as np
import pytest
import soundfile as sf
from support import window as ui

from musinterp_app.audio import analysis, synth
from musinterp_app.audio import player as playback
from musinterp_app.base.resources import default_model_dir

pytestmark = pytest.mark.gui


def test_match_tempo_fits_b_to_a_and_the_blend_follows(qtbot, window, clips):
    window.actions["view_sync"].trigger()
    controls = window.sync_controls
    assert controls.isVisible()
    ui.load_both(qtbot, window, clips)
    qtbot.waitUntil(lambda: "BPM" in controls.words.get("B", ""), timeout=ui.LOAD_TIMEOUT_MS)
    assert window.panels["B"].tempo_key.text() == controls.words["B"]
    with qtbot.waitSignal(controls.synced, timeout=ui.LOAD_TIMEOUT_MS):
        controls.tempo_box.setChecked(True)
    session = window.session
    fit = session.engine.tracks["B"].alignment
    assert fit is not None and fit.sync == ("tempo",)
    assert session.engine.tracks["A"].alignment is None
    qtbot.waitUntil(lambda: ui.idle(window), timeout=ui.LOAD_TIMEOUT_MS)
    expected = session.engine.blend_mel(session.heard(session.engine, session.settings))
    np.testing.assert_array_equal(session.blended_mel, expected)  # the blend of the fitted B


def test_the_pad_blends_the_windows_tracks_with_two_more(qtbot, window, clips, tmp_path):
    window.actions["view_pad"].trigger()
    pad = window.pad
    assert pad.isVisible()
    ui.load_both(qtbot, window, clips)
    for slot, root in (("C", 57), ("D", 69)):
        clip = synth.music_like(7.0, 44100, rng=np.random.default_rng(root), root_midi=root)
        sf.write(tmp_path / f"{slot}.wav", clip, 44100)
        with qtbot.waitSignal(pad.lanes[f"load {slot}"].finished, timeout=ui.LOAD_TIMEOUT_MS):
            pad.load(slot, tmp_path / f"{slot}.wav")
    assert pad.ready
    words = window.sync_controls.words  # the corners' tempo and key are estimated too
    qtbot.waitUntil(lambda: "BPM" in words.get("D", ""), timeout=ui.LOAD_TIMEOUT_MS)
    assert "BPM" in words["C"]
    with qtbot.waitSignal(window.blend_drawn, timeout=ui.LOAD_TIMEOUT_MS):  # live while dragged
        pad.surface.set_position(1.0, 1.0)
        pad.surface.moved.emit(1.0, 1.0)
    drawn = window.blend_view.shown[0]
    d = window.session.engine.tracks["D"].mel
    np.testing.assert_allclose(drawn, d[:, : drawn.shape[1]], atol=1e-4)  # corner D: its own
    with qtbot.waitSignal(pad.play_live, timeout=ui.LOAD_TIMEOUT_MS) as released:
        pad.surface.set_position(0.0, 1.0)
        pad.surface.released.emit(0.0, 1.0)
    assert (released.args[0].x, released.args[0].y) == (0.0, 1.0)  # corner C
    if not playback.unavailable_reason():  # it plays live through the session: cursor, stop
        qtbot.waitUntil(lambda: window.blend_view.cursor.value() > 0.1, timeout=ui.LOAD_TIMEOUT_MS)
        assert window.session.transport.playing == "pad"
        assert window.session.transport.live.renderer.target == (0.0, 1.0)
        assert window.session.transport.live.renderer.tracks[2] is window.session.engine.tracks["C"]
        window.session.transport.stop()
        qtbot.waitUntil(lambda: window.session.transport.playing == "", timeout=5000)
        assert not window.blend_view.cursor.isVisible()


def test_the_docks_follow_new_and_swapped_tracks(qtbot, window, clips, tmp_path):
    window.actions["view_sync"].trigger()
    window.actions["view_pad"].trigger()
    ui.load_both(qtbot, window, clips)
    words, names = window.sync_controls.words, window.pad.surface.names
    qtbot.waitUntil(lambda: "BPM" in words.get("B", ""), timeout=ui.LOAD_TIMEOUT_MS)
    assert (names["A"], names["B"]) == (clips[0].name, clips[1].name)
    window.session.swap()
    assert (names["A"], names["B"]) == (clips[1].name, clips[0].name)  # the pad's corners too
    second = synth.music_like(1.0, 44100, rng=np.random.default_rng(3), root_midi=60)
    sf.write(tmp_path / "second.wav", second, 44100)
    ui.drop(window.panels["B"], tmp_path / "second.wav")
    qtbot.waitUntil(lambda: "too short" in words["B"], timeout=ui.LOAD_TIMEOUT_MS)
    assert "BPM" in words["A"]  # one track too short leaves the other's estimate


def test_each_tracks_tempo_and_key_are_estimated_once_and_follow_it(
    qtbot, window, clips, tmp_path, monkeypatch
):
    """A swap, a fit and a model switch keep the estimates and what was given by hand;
    only a track with new content is estimated."""
    estimated = []  # the length of each excerpt whose key was estimated
    real = analysis.estimate_key
    monkeypatch.setattr(
        analysis,
        "estimate_key",
        lambda samples, rate: estimated.append(len(samples)) or real(samples, rate),
    )
    window.actions["view_sync"].trigger()
    controls, words = window.sync_controls, window.sync_controls.words
    ui.load_both(qtbot, window, clips)
    qtbot.waitUntil(
        lambda: "BPM" in words.get("A", "") and "BPM" in words.get("B", ""),
        timeout=ui.LOAD_TIMEOUT_MS,
    )
    assert len(estimated) == 2
    with qtbot.waitSignal(controls.synced, timeout=ui.LOAD_TIMEOUT_MS):
        controls.buttons["B"]["half"].click()  # given by hand (nothing matched: no fit)
    given = words["B"]
    assert given.endswith("(given)")
    a_words = words["A"]

    window.session.swap()
    assert words["A"] == given and words["B"] == a_words
    assert window.panels["A"].tempo_key.text() == given

    before = window.session.engine
    window.load_model(str(default_model_dir()))
    qtbot.waitUntil(
        lambda: window.session.engine is not before and ui.idle(window), timeout=ui.LOAD_TIMEOUT_MS
    )
    assert words["A"] == given  # kept through the model switch
    assert not controls.lanes["estimate"].busy and len(estimated) == 2

    third = synth.music_like(6.0, 44100, rng=np.random.default_rng(5), root_midi=62)
    sf.write(tmp_path / "third.wav", third, 44100)
    ui.drop(window.panels["B"], tmp_path / "third.wav")
    qtbot.waitUntil(lambda: "third" in window.panels["B"].title.text(), timeout=ui.LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: "BPM" in words["B"], timeout=ui.LOAD_TIMEOUT_MS)
    assert len(estimated) == 3  # only the new track
    assert words["A"] == given

    with qtbot.waitSignal(controls.synced, timeout=ui.LOAD_TIMEOUT_MS):
        controls.tempo_box.setChecked(True)  # fitting uses the estimates made
    with qtbot.waitSignal(controls.synced, timeout=ui.LOAD_TIMEOUT_MS):
        window.session.swap()  # B is fitted to the new A
    assert window.session.engine.tracks["B"].alignment is not None
    assert window.session.engine.tracks["A"].alignment is None
    assert len(estimated) == 3


def test_the_blend_view_leaves_the_pad_when_the_pad_closes(qtbot, window, clips):
    ui.load_both(qtbot, window, clips)
    window.docks["pad"].show()
    for slot in ("C", "D"):
        with qtbot.waitSignal(window.pad.track_loaded, timeout=ui.LOAD_TIMEOUT_MS):
            window.pad.load(slot, clips[0], start_s=0.5)
    with qtbot.waitSignal(window.pad.blended, timeout=ui.LOAD_TIMEOUT_MS):
        window.pad.move_puck(x=0.3, y=0.6)
    assert window.blend_view.plotItem.titleLabel.text == "Four-corner pad blend"
    assert window.session.engine.tracks["C"].start_s == 0.5  # C's excerpt as asked
    window.docks["pad"].hide()
    assert window.blend_view.plotItem.titleLabel.text.startswith("Blend α = 0.50")
