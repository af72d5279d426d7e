"""audio.mel: the features the model sees, and their inverse."""

import librosa
import numpy as np
import pytest

from musinterp_app.audio import mel, stft


def test_seed_parameters(config):
    assert (config.sample_rate, config.n_fft, config.hop_length, config.n_mels) == (
        32768,
        4096,
        256,
        512,
    )
    assert config.segment_frames == 640
    assert config.segment_seconds == pytest.approx(5.0)


def test_filterbank_matches_librosa_defaults(config):
    reference = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels)
    np.testing.assert_allclose(mel.mel_filterbank(config), reference, atol=1e-7)


def test_log_mel_shape_and_one_frame_per_hop(config, clip):
    features = mel.log_mel(clip, config)
    assert features.shape == (512, len(clip) // config.hop_length) == (512, 640)
    assert features.dtype == np.float32


def test_silence_maps_to_the_floor_and_stays_finite(config):
    features = mel.log_mel(np.zeros(config.sample_rate, np.float32), config)
    assert np.isfinite(features).all()
    np.testing.assert_allclose(features, config.floor_normalised, rtol=1e-6)


def test_louder_is_higher_by_the_scale(config, clip):
    quiet, loud = mel.log_mel(0.1 * clip, config), mel.log_mel(clip, config)
    above_floor = quiet > config.floor_normalised + 0.1
    shift = (loud - quiet)[above_floor]
    np.testing.assert_allclose(shift, 20.0 / config.norm_scale_db, atol=1e-3)


def test_normalisation_round_trip_above_the_floor(config):
    power = np.logspace(-7, 3, 50).astype(np.float32)[:, None]
    back = mel.normalised_to_power(mel.power_to_normalised(power, config), config)
    np.testing.assert_allclose(back, power, rtol=1e-4)


def test_floor_values_give_zero_power(config):
    floor = np.full((512, 3), config.floor_normalised, np.float32)
    assert not mel.normalised_to_power(floor, config).any()


def test_to_magnitude_is_non_negative_and_close_to_the_truth(config, clip):
    truth = stft.magnitude(clip, n_fft=config.n_fft, hop_length=config.hop_length)
    estimate = mel.to_magnitude(mel.log_mel(clip, config), config)

    assert estimate.shape == truth.shape == (2049, 640)
    assert (estimate >= 0).all() and np.isfinite(estimate).all()
    error_db = 20 * np.log10(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))
    assert error_db < -20.0


def test_more_updates_fit_the_mel_bands_better(config, clip):
    power = mel.power_mel(clip, config)
    filters = mel.mel_filterbank(config)

    def band_error(n_iter: int) -> float:
        magnitude = mel.power_mel_to_magnitude(power, config, n_iter=n_iter)
        return float(np.linalg.norm(filters @ magnitude**2 - power))

    assert band_error(32) < band_error(4) < band_error(0)


def test_config_round_trips_through_a_dict():
    config = mel.MelConfig(n_mels=128, norm_scale_db=20.0)
    as_text = {key: str(value) for key, value in config.to_dict().items()}
    assert mel.MelConfig.from_dict({**as_text, "unrelated": "x"}) == config


@pytest.mark.parametrize(
    "kwargs", [{"hop_length": 300}, {"fmax_hz": 20000.0}, {"norm_scale_db": 0.0}]
)
def test_inconsistent_config_is_refused(kwargs):
    with pytest.raises(ValueError):
        mel.MelConfig(**kwargs)


def test_the_peak_limiter_never_clips_and_leaves_quiet_audio_alone():
    from musinterp_app.audio.levels import PeakLimiter

    rate = 32768
    rng = np.random.default_rng(0)
    quiet = (0.3 * rng.standard_normal(rate)).clip(-0.9, 0.9).astype(np.float32)
    loud = quiet.copy()
    loud[10_000:10_050] *= 8.0  # a burst three times over full scale
    limiter = PeakLimiter(rate)
    np.testing.assert_array_equal(PeakLimiter(rate).process(quiet), quiet)
    streamed = np.concatenate([limiter.process(loud[k : k + 4096]) for k in range(0, rate, 4096)])
    whole = PeakLimiter(rate).process(loud)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)  # chunking does not matter
    assert np.abs(whole).max() <= 0.99 + 1e-6
    np.testing.assert_allclose(whole[-5000:], loud[-5000:], rtol=0.01, atol=1e-3)  # recovered
    stereo = np.stack([loud, -loud], axis=1)
    assert np.abs(PeakLimiter(rate).process(stereo)).max() <= 0.99 + 1e-6
