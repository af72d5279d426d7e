"""The tempo and key study's measures, on cases whose answers are known."""

import struct

import numpy as np
import pytest

from musinterp_app.audio import synth
from musinterp_app.audio.analysis import Key
from musinterp_app.training.evaluation import sync_study


def test_verdicts_count_octave_errors_and_related_keys_apart():
    assert sync_study.tempo_verdict(121.0, 120.0) == "right"
    assert sync_study.tempo_verdict(60.5, 120.0) == "octave"
    assert sync_study.tempo_verdict(240.0, 120.0) == "octave"
    assert sync_study.tempo_verdict(90.0, 120.0) == "wrong"
    c_major = Key(0, False)
    assert sync_study.key_verdict(Key(0, False), c_major) == "right"
    assert sync_study.key_verdict(Key(9, True), c_major) == "relative"
    assert sync_study.key_verdict(Key(7, False), c_major) == "fifth"
    assert sync_study.key_verdict(Key(0, True), c_major) == "wrong"


def test_a_module_states_its_tempo(tmp_path):
    xm = bytearray(b"Extended Module: " + bytes(80))
    struct.pack_into("<HH", xm, 76, 3, 125)  # speed 3, BPM 125: rows twice as fast
    (tmp_path / "a.xm").write_bytes(bytes(xm))
    assert sync_study.module_tempo_bpm(tmp_path / "a.xm") == pytest.approx(250.0)
    mod = bytearray(1084 + 1024)
    mod[1080:1084] = b"M.K."
    mod[1084 + 2 : 1084 + 4] = bytes([0x0F, 140])  # row 0, channel 0: F8C sets BPM 140
    (tmp_path / "b.mod").write_bytes(bytes(mod))
    assert sync_study.module_tempo_bpm(tmp_path / "b.mod") == pytest.approx(140.0)
    (tmp_path / "c.mod").write_bytes(b"not a module")
    assert sync_study.module_tempo_bpm(tmp_path / "c.mod") is None


def test_steadiness_tells_agreeing_windows_from_disagreeing_ones():
    rate = sync_study.RATE
    agreeing = [synth.music_like(8.0, rate, rng=np.random.default_rng(k), tempo_bpm=120.0,
                                 root_midi=48, cadences=True) for k in range(4)]  # fmt: skip
    tunes = [(120, 48), (97, 49), (120, 54), (150, 51)]  # (BPM, root): four pieces
    mixed = [synth.music_like(8.0, rate, rng=np.random.default_rng(k), tempo_bpm=bpm,
                              root_midi=root, cadences=True)
             for k, (bpm, root) in enumerate(tunes)]  # fmt: skip
    result = sync_study.steadiness(
        {"one tune": agreeing, "four tunes": mixed}, sync_study.app_estimate
    )
    tracks = result["per_track"]
    assert tracks["one tune"]["tempo_steady"] and tracks["one tune"]["key_steady"]
    assert not tracks["four tunes"]["tempo_steady"] and not tracks["four tunes"]["key_steady"]
    assert result["tempo_steady"] == 0.5


def test_the_steady_section_is_the_stretch_whose_windows_sound_alike():
    rate = sync_study.RATE
    rng = np.random.default_rng(0)
    noise = 0.2 * rng.standard_normal(20 * rate).astype(np.float32)
    tune = synth.music_like(40.0, rate, rng=rng, tempo_bpm=110.0)
    windows = sync_study.steady_section(np.concatenate([noise, tune]))
    assert len(windows) == 4
    start = next(i for i in range(0, 60 * rate, rate) if np.array_equal(
        np.concatenate([noise, tune])[i : i + 100], windows[0][:100]))  # fmt: skip
    assert start >= 20 * rate  # in the tune, not across the noise
    assert sync_study.steady_section(tune[: 20 * rate]) is None
