"""Direct tests of two small audio modules: levels (peaks, loudness, fades, the limiter) and
stft (framing, the transform, spectral convergence, frames of a part)."""

import librosa
import numpy as np
import pytest

from musinterp_app.audio import levels, mel, stft

RATE = 32768


def tone(seconds: float, amplitude: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_peak_normalisation_and_limiting():
    loud = tone(0.5, 1.7)
    assert np.abs(levels.normalise_peak(loud, -6.0)).max() == pytest.approx(10 ** (-6 / 20), 1e-4)
    assert np.abs(levels.limit_peak(loud)).max() == pytest.approx(0.999, 1e-4)
    quiet = tone(0.5, 0.2)
    assert levels.limit_peak(quiet) is quiet  # never raised
    silence = np.zeros(100, np.float32)
    assert not levels.normalise_peak(silence).any()


def test_loudness_follows_the_target_within_its_limit(config):
    normalised = mel.log_mel(tone(3.0, 0.1), config)
    actual = levels.frame_loudness_db(normalised, config)
    louder = levels.follow_loudness(normalised, actual + 10.0, config)
    gain = np.median(levels.frame_loudness_db(louder, config) - actual)
    assert gain == pytest.approx(10.0, abs=0.5)
    capped = levels.follow_loudness(normalised, actual + 60.0, config)
    assert np.median(levels.frame_loudness_db(capped, config) - actual) == pytest.approx(
        levels.MAX_LOUDNESS_CORRECTION_DB, abs=0.5
    )
    floor = np.full_like(actual, config.floor_db)  # a silent target keeps the level
    np.testing.assert_allclose(levels.follow_loudness(normalised, floor, config), normalised)


def test_fades_start_and_end_at_silence_and_leave_the_middle():
    audio = np.ones((1000, 2), np.float32)
    faded = levels.fade_ends(audio, 100)
    assert faded[0].max() < 0.01 and faded[-1].max() < 0.01
    np.testing.assert_array_equal(faded[100:-100], 1.0)
    assert levels.fade_ends(audio, 0) is audio


def test_the_limiter_streams_as_one_piece_and_never_exceeds_its_ceiling():
    audio = np.concatenate([tone(0.3, 0.5), tone(0.3, 2.0), tone(0.6, 0.5)])
    whole = levels.PeakLimiter(RATE).process(audio)
    streamed = levels.PeakLimiter(RATE)
    chunks = [streamed.process(audio[k : k + 2048]) for k in range(0, len(audio), 2048)]
    np.testing.assert_allclose(np.concatenate(chunks), whole, atol=1e-6)
    assert np.abs(whole).max() <= 0.99 + 1e-6
    assert np.abs(whole[-RATE // 10 :]).max() == pytest.approx(0.5, abs=0.01)  # recovered


def test_the_stft_matches_librosa_and_its_frames_are_its_parts():
    audio = np.random.default_rng(0).normal(size=RATE).astype(np.float32)
    ours = stft.stft(audio, n_fft=1024, hop_length=256)
    theirs = librosa.stft(audio, n_fft=1024, hop_length=256, center=True, pad_mode="constant")
    assert ours.shape[1] == stft.frame_count(len(audio), 256)
    np.testing.assert_allclose(ours, theirs[:, : ours.shape[1]], atol=1e-3)
    np.testing.assert_allclose(
        stft.stft_frames(audio, 10, 20, n_fft=1024, hop_length=256), ours[:, 10:20], atol=1e-4
    )


def test_spectral_convergence_is_very_low_for_the_signal_itself_and_zero_db_for_silence():
    audio = tone(1.0, 0.5)
    target = stft.magnitude(audio, n_fft=1024, hop_length=256)
    assert stft.spectral_convergence_db(audio, target, n_fft=1024, hop_length=256) < -100
    silent = np.zeros_like(audio)
    assert stft.spectral_convergence_db(
        silent, target, n_fft=1024, hop_length=256
    ) == pytest.approx(0.0, abs=1e-6)
