"""audio.phase_gradient: a starting phase from the magnitude alone."""

import numpy as np

from musinterp_app.audio import mel, stft
from musinterp_app.audio.griffinlim import _starting_phase, griffinlim_stream
from musinterp_app.audio.phase_gradient import PhaseGradient

N_FFT, HOP = 4096, 256


def frames_major(magnitude):
    return np.ascontiguousarray(magnitude.T)


def test_a_sinusoid_between_bins_gets_its_frequency_in_every_bin_of_its_lobe():
    """A tone at bin 93.3: the three bins around its peak all estimate the tone's frequency
    (Hann is not quite Gaussian, so within 0.2 bin; bin 95 is 0.5 off), not their own
    centres."""
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


def test_the_phase_gradient_start_beats_a_random_one(config, clip):
    """From a music-like clip's log-mel (what `musinterp reconstruct` inverts): with no
    iteration at all, and after 8, the integrated start is far more consistent."""
    log_mel = mel.log_mel(clip, config)[:, :320]
    target = mel.to_magnitude(log_mel, config)

    def quality(n_iter, phase_gradient):
        audio = mel.to_audio(log_mel, config, n_iter=n_iter, phase_gradient=phase_gradient)
        return stft.spectral_convergence_db(audio, target, n_fft=N_FFT, hop_length=HOP)

    assert quality(0, True) < quality(0, False) - 3.0
    assert quality(8, True) < quality(8, False) - 2.0


def test_a_tones_bins_start_as_the_real_tones_do():
    """Across a stationary tone's main lobe (bins within 2 of it) the real STFT's phases
    step by π from bin to bin (Hann, frames referred to their first sample); the
    integrated start does the same in every frame, because each bin takes its peak's
    phase (integrated bin by bin, they drift apart within a few frames)."""
    tone_bin = 93.3
    samples = np.cos(2 * np.pi * tone_bin / N_FFT * np.arange(120 * HOP)).astype(np.float32)
    spectrum = frames_major(stft.stft(samples, n_fft=N_FFT, hop_length=HOP))
    start = PhaseGradient(N_FFT, HOP).next_frames(np.abs(spectrum))
    frames, lobe, peak = slice(20, 100), [92, 94, 95], 93

    def relative(phasors):
        return phasors[frames][:, lobe] * np.conj(phasors[frames][:, [peak]])

    error = np.angle(relative(start) * np.conj(relative(spectrum)))
    assert np.abs(error).max() < 0.3


def test_with_given_phases_too_only_the_bins_they_explain_keep_them(clip):
    """A given spectrum that matches the magnitude below bin 1000 and is 20 dB off above
    starts the frames below; the integrated phase starts them above."""
    spectrum = frames_major(stft.stft(clip, n_fft=N_FFT, hop_length=HOP))[:64]
    magnitude = np.abs(spectrum)
    given = spectrum.copy()
    given[:, 1000:] *= 10

    start = _starting_phase(magnitude, given, PhaseGradient(N_FFT, HOP))
    integrated = PhaseGradient(N_FFT, HOP).next_frames(magnitude)

    audible = magnitude > 1e-3 * magnitude.max()
    low, high = audible.copy(), audible.copy()
    low[:, 1000:], high[:, :1000] = False, False
    np.testing.assert_array_equal(start[low], given[low])
    np.testing.assert_array_equal(start[high], integrated[high])


def test_the_stream_integrates_every_frame_once_in_order(clip, monkeypatch):
    """Chunks overlap by a window of context, but the integrator is fed each new frame
    once, in time order, and the given phases are asked for the same frames."""
    magnitude = stft.magnitude(clip, n_fft=N_FFT, hop_length=HOP)[:, :150]
    fed, asked = [], []
    integrate = PhaseGradient.next_frames

    def spy(self, frames):
        fed.append(frames.copy())
        return integrate(self, frames)

    monkeypatch.setattr(PhaseGradient, "next_frames", spy)

    def given(start, stop):
        asked.append((start, stop))
        return magnitude[:, start:stop].astype(np.complex64)

    chunks = griffinlim_stream(
        lambda a, b: magnitude[:, a:b],
        150,
        n_fft=N_FFT,
        hop_length=HOP,
        n_iter=1,
        phase_frames=given,
        phase_gradient=True,
        first_chunk_frames=8,
        chunk_frames=40,
    )
    assert sum(len(chunk) for chunk in chunks) == 150 * HOP
    assert len(fed) > 2
    np.testing.assert_array_equal(np.concatenate(fed), frames_major(magnitude))
    assert [stop for _, stop in asked[:-1]] == [start for start, _ in asked[1:]]
    assert asked[0][0] == 0 and asked[-1][1] == 150
