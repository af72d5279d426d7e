"""audio.phase_gradient: a starting phase from the magnitude alone."""

import numpy as np

from musinterp_app.audio import mel, stft
from musinterp_app.audio.griffinlim import griffinlim_stream
from musinterp_app.audio.phase_gradient import PhaseGradient

N_FFT, HOP = 4096, 256


def frames_major(magnitude):
    return np.ascontiguousarray(magnitude.T)


def test_a_sinusoid_between_bins_gets_its_frequency_in_every_bin_of_its_lobe():
    """A tone at bin 93.3: the bins around its peak all estimate the tone's frequency (Hann
    is not quite Gaussian, so within 0.2 bin), not their own centres, so they start
    phase-locked, as the real tone's bins are."""
    tone_bin = 93.3
    samples = np.cos(2 * np.pi * tone_bin / N_FFT * np.arange(40 * HOP)).astype(np.float32)
    magnitude = frames_major(stft.magnitude(samples, n_fft=N_FFT, hop_length=HOP))[20:21]
    offset = PhaseGradient(N_FFT, HOP).frequency_offset(magnitude)[0]
    peak = np.arange(92, 95)
    in_bins = peak + offset[peak] * N_FFT / (2 * np.pi)
    np.testing.assert_allclose(in_bins, tone_bin, atol=0.2)


def test_phases_carry_on_from_one_call_to_the_next(clip):
    magnitude = frames_major(stft.magnitude(clip, n_fft=N_FFT, hop_length=HOP))[:90]
    whole = PhaseGradient(N_FFT, HOP).next_frames(magnitude)
    stream = PhaseGradient(N_FFT, HOP)
    parts = [stream.next_frames(magnitude[a:b]) for a, b in ((0, 7), (7, 40), (40, 40), (40, 90))]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=2e-3)
    np.testing.assert_allclose(np.abs(whole), 1.0, atol=1e-5)


def render(log_mel, config, n_iter, phase_gradient, stride=1):
    chunks = mel.audio_stream(
        lambda a, b: log_mel[:, a:b],
        log_mel.shape[1],
        config,
        stride=stride,
        n_iter=n_iter,
        phase_gradient=phase_gradient,
    )
    return np.concatenate(list(chunks))


def test_the_phase_gradient_start_beats_a_random_one(config, clip):
    """From a music-like clip's log-mel (what `musinterp reconstruct` inverts): with no
    iteration at all, and after 8, the integrated start is far more consistent."""
    log_mel = mel.log_mel(clip, config)[:, :320]
    target = mel.to_magnitude(log_mel, config)

    def quality(n_iter, phase_gradient):
        audio = render(log_mel, config, n_iter, phase_gradient)
        return stft.spectral_convergence_db(audio, target, n_fft=N_FFT, hop_length=HOP)

    assert quality(0, True) < quality(0, False) - 3.0
    assert quality(8, True) < quality(8, False) - 2.0


def test_given_phases_are_kept_where_they_exist(config, clip):
    """With a source phase for some bins, those start from it; the rest from the gradient:
    at 0 iterations the frames' phase is the given one wherever it was not zero."""
    magnitude = stft.magnitude(clip, n_fft=N_FFT, hop_length=HOP)[:, :64]
    given = stft.stft(clip, n_fft=N_FFT, hop_length=HOP)[:, :64].copy()
    given[1000:] = 0  # no source above bin 1000

    def audio(phase_frames):
        chunks = griffinlim_stream(
            lambda a, b: magnitude[:, a:b],
            64,
            n_fft=N_FFT,
            hop_length=HOP,
            n_iter=0,
            phase_frames=phase_frames,
            phase_gradient=True,
        )
        return np.concatenate(list(chunks))

    with_source = stft.stft(audio(lambda a, b: given[:, a:b]), n_fft=N_FFT, hop_length=HOP)
    without = stft.stft(audio(None), n_fft=N_FFT, hop_length=HOP)
    low = slice(100, 900)
    inner = slice(20, 44)  # away from the clip's ends

    def phase_error(spectrum, rows):
        error = np.angle(spectrum[rows, inner] * np.conj(given[rows, inner]))
        weights = magnitude[rows, inner]
        return float((np.abs(error) * weights).sum() / weights.sum())

    assert phase_error(with_source, low) < 0.3
    assert phase_error(without, low) > 0.8
