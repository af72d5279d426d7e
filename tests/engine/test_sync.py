"""Tempo and key sync: B fitted to A's tempo, downbeat and key; estimates overridable."""

import librosa
import numpy as np
import pytest
from support.engines import engine_with
from support.music import known_clip

from musinterp_app.audio import analysis
from musinterp_app.engine import BlendSettings, with_excerpt

RATE = 32768


@pytest.fixture(scope="module")
def pair(shipped_model, tmp_path_factory):
    """A at 100 BPM in C major, B at 121 BPM in D minor (21 % apart)."""
    clips = {
        slot: known_clip(bpm, tonic, minor, RATE, duration_s=10.0, lead_in_s=lead_in).samples
        for slot, (bpm, tonic, minor, lead_in) in {
            "A": (100.0, 0, False, 0.2),
            "B": (121.0, 2, True, 0.35),
        }.items()
    }
    folder = tmp_path_factory.mktemp("sync")
    return engine_with(shipped_model, clips, folder=folder, rate=RATE)


def test_tempo_sync_puts_the_blend_on_as_tempo_with_clearer_beats(pair):
    synced = pair.synced(("tempo",))
    target = pair.estimates("A")[0].bpm
    plain = analysis.estimate_tempo(pair.render(BlendSettings(alpha=0.5)), RATE)
    fitted = analysis.estimate_tempo(synced.render(BlendSettings(alpha=0.5)), RATE)
    assert fitted.bpm == pytest.approx(target, rel=0.03)
    assert fitted.confidence > plain.confidence
    b = synced.tracks["B"]
    assert b.samples.shape == pair.tracks["B"].samples.shape  # the excerpt keeps its length
    assert b.alignment.speed == pytest.approx(target / 121.0, rel=0.02)
    stretched = analysis.estimate_tempo(b.samples, RATE)
    assert stretched.bpm == pytest.approx(target, rel=0.02)
    reference = pair.estimates("A")[0]
    assert stretched.first_downbeat_s % reference.beat_s == pytest.approx(
        reference.first_downbeat_s % reference.beat_s, abs=0.04
    )
    assert synced.tracks["A"] is pair.tracks["A"]  # A is never changed


def test_key_sync_shifts_b_onto_as_key(pair):
    synced = pair.synced(("key",))
    fit = synced.tracks["B"].alignment
    assert fit.semitones == -5  # D minor → its relative F major → C major, the short way
    assert fit.speed == 1.0
    before, after = (
        librosa.feature.chroma_stft(y=track.samples, sr=RATE).sum(axis=1)
        for track in (pair.tracks["B"], synced.tracks["B"])
    )  # measured apart from the estimator's own chroma
    fits = [np.corrcoef(np.roll(before, shift), after)[0, 1] for shift in range(12)]
    assert int(np.argmax(fits)) == (-5) % 12  # every pitch class moved down 5 semitones
    assert analysis.estimate_key(synced.tracks["B"].samples, RATE).name == "A minor"


def test_overrides_replace_the_estimates_and_undo_restores_the_track(pair):
    halved = pair.synced(
        ("tempo", "key"), tempo_bpm={"B": 60.5}, keys={"B": analysis.Key(5, False)}
    )
    fit = halved.tracks["B"].alignment
    assert fit.tempo.bpm == pytest.approx(60.5)
    assert fit.key.name == "F major" and fit.semitones == -5
    # given by hand, so matched as given (not folded by octaves: ÷2 takes effect)
    assert fit.speed == pytest.approx(pair.estimates("A")[0].bpm / 60.5, rel=1e-6)
    estimated = pair.synced(("tempo",)).tracks["B"].alignment  # an estimate is folded
    assert 2**-0.5 <= estimated.speed <= 2**0.5
    undone = halved.synced(())
    assert undone.tracks["B"].alignment is None
    np.testing.assert_array_equal(undone.tracks["B"].samples, pair.tracks["B"].samples)


def test_a_wrong_tempo_override_is_refused(pair):
    with pytest.raises(ValueError, match="tempo"):
        pair.synced(("tempo",), tempo_bpm={"B": 1000.0})
    with pytest.raises(ValueError, match=r"beyond ×0\.25 … ×4: halve or double"):
        pair.synced(("tempo",), tempo_bpm={"B": 21.0})  # within range, but a ×5 stretch


def test_a_model_switch_keeps_the_fit_and_a_moved_excerpt_drops_it(pair, shipped_model):
    synced = pair.synced(("tempo", "key"))
    switched = synced.with_model(shipped_model)
    b = switched.tracks["B"]
    assert b.alignment == synced.tracks["B"].alignment
    np.testing.assert_array_equal(b.samples, synced.tracks["B"].samples)
    moved = with_excerpt(b, shipped_model, start_s=1.0, excerpt_s=b.excerpt_s)
    assert moved.alignment is None and moved.start_s == 1.0


def test_a_fitted_track_that_runs_out_of_file_says_so(shipped_model, tmp_path):
    """B, slower than A, is read ×1.25 as fast: a 6-s file cannot fill a 5-s excerpt after
    its downbeat is moved; the silence that remains is said, not hidden."""
    clips = {
        slot: known_clip(bpm, 0, False, RATE, duration_s=6.0, lead_in_s=0.3).samples
        for slot, bpm in (("A", 100.0), ("B", 80.0))
    }
    engine = engine_with(shipped_model, clips, folder=tmp_path, rate=RATE)
    b = engine.synced(("tempo",)).tracks["B"]
    heard_s = np.flatnonzero(np.abs(b.samples) > 1e-4)[-1] / RATE
    assert heard_s < b.excerpt_s - 1.0  # the situation this test builds
    assert "runs out" in b.note and "choose an earlier start" in b.note
