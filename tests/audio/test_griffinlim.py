"""audio.griffinlim: quality, streaming that joins seamlessly, cancel and progress."""

import itertools

import numpy as np
import pytest

from musinterp_app.audio import mel, stft, synth
from musinterp_app.audio.cancel import Cancelled, CancelToken
from musinterp_app.audio.griffinlim import griffinlim, griffinlim_stream

HOP = 256


def convergence(audio, magnitude):
    return stft.spectral_convergence_db(audio, magnitude, n_fft=4096, hop_length=HOP)


@pytest.fixture(scope="module")
def true_magnitude(clip):
    return stft.magnitude(clip, n_fft=4096, hop_length=HOP)


def test_reconstructs_a_known_signal(true_magnitude):
    audio = griffinlim(true_magnitude, hop_length=HOP, n_iter=32)

    assert audio.dtype == np.float32
    assert audio.shape == (640 * HOP,)
    assert convergence(audio, true_magnitude) < -20.0


def test_more_iterations_converge_further(true_magnitude):
    few = convergence(griffinlim(true_magnitude, hop_length=HOP, n_iter=4), true_magnitude)
    many = convergence(griffinlim(true_magnitude, hop_length=HOP, n_iter=32), true_magnitude)
    assert many < few - 3.0


def test_momentum_beats_plain_griffin_lim(true_magnitude):
    plain = griffinlim(true_magnitude, hop_length=HOP, n_iter=16, momentum=0.0)
    fast = griffinlim(true_magnitude, hop_length=HOP, n_iter=16, momentum=0.99)
    assert convergence(fast, true_magnitude) < convergence(plain, true_magnitude)


def test_same_rng_same_audio(true_magnitude):
    first = griffinlim(true_magnitude[:, :100], hop_length=HOP, rng=np.random.default_rng(5))
    second = griffinlim(true_magnitude[:, :100], hop_length=HOP, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(first, second)


def test_silence_gives_silence():
    audio = griffinlim(np.zeros((2049, 50), np.float32), hop_length=HOP, n_iter=4)
    assert np.isfinite(audio).all() and not audio.any()


def test_progress_and_cancel(true_magnitude):
    steps = []
    griffinlim(
        true_magnitude[:, :64],
        hop_length=HOP,
        n_iter=5,
        progress=lambda done, total: steps.append((done, total)),
    )
    assert steps == [(k, 5) for k in range(1, 6)]

    token = CancelToken()
    seen = []

    def cancel_after_three(done, total):
        seen.append(done)
        if done == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        griffinlim(
            true_magnitude, hop_length=HOP, n_iter=32, cancel=token, progress=cancel_after_three
        )
    assert seen == [1, 2, 3]


@pytest.fixture(scope="module")
def long_clip(config):
    return synth.music_like(12.0, config.sample_rate, rng=np.random.default_rng(11))


@pytest.fixture(scope="module")
def streamed(config, long_clip):
    log_mel = mel.log_mel(long_clip, config)
    requested = []

    def frames(start, stop):
        requested.append((start, stop))
        return mel.to_magnitude(log_mel[:, start:stop], config)

    chunks = list(griffinlim_stream(frames, log_mel.shape[1], n_fft=4096, hop_length=HOP))
    return chunks, requested, mel.to_magnitude(log_mel, config)


def test_stream_yields_the_whole_clip_in_growing_chunks(streamed, long_clip):
    chunks, requested, _ = streamed
    assert sum(len(chunk) for chunk in chunks) == len(long_clip) // HOP * HOP
    sizes = [len(chunk) // HOP for chunk in chunks]
    assert sizes[0] == 32 and sizes[1] == 256  # then the largest chunks at once
    assert set(sizes[1:-1]) == {256} and 0 < sizes[-1] < 256 + 128  # a short tail joins one
    # Magnitude is asked for lazily, in order, never twice for the same frame.
    assert requested[0][0] == 0 and requested[-1][1] == len(long_clip) // HOP
    assert all(later[0] == earlier[1] for earlier, later in itertools.pairwise(requested))
    assert requested[0][1] == 32 + 16  # first chunk plus one window of look-ahead


def test_stream_matches_batch_quality(streamed, long_clip, config):
    chunks, _, magnitude = streamed
    truth = stft.magnitude(long_clip, n_fft=4096, hop_length=HOP)
    batch = griffinlim(magnitude, hop_length=HOP)
    streamed_db = convergence(np.concatenate(chunks), truth)
    assert streamed_db < convergence(batch, truth) + 1.0


def test_stream_joins_are_seamless(streamed):
    chunks, _, _ = streamed
    audio = np.concatenate(chunks)
    jumps = np.abs(np.diff(audio))
    joins = np.cumsum([len(chunk) for chunk in chunks])[:-1]
    typical = np.percentile(jumps, 99.9)
    assert jumps[joins - 1].max() < typical
    # No dip in level across a join either: compare 10-ms RMS either side.
    window = 328
    for join in joins:
        before = np.sqrt(np.mean(audio[join - window : join] ** 2))
        after = np.sqrt(np.mean(audio[join : join + window] ** 2))
        overall = np.sqrt(np.mean(audio[join - 4 * window : join + 4 * window] ** 2))
        assert min(before, after) > 0.3 * overall


def test_stream_can_be_cancelled_between_chunks(true_magnitude):
    token = CancelToken()
    stream = griffinlim_stream(
        lambda a, b: true_magnitude[:, a:b], 640, n_fft=4096, hop_length=HOP, cancel=token
    )
    next(stream)
    token.cancel()
    with pytest.raises(Cancelled):
        next(stream)


@pytest.mark.parametrize("n_frames", [640, 637])
def test_strided_stream_asks_each_frame_once_and_keeps_the_length(config, long_clip, n_frames):
    """Phase retrieval on every 4th frame: each mel frame is asked for once, in order, and the
    audio is exactly ``n_frames · hop`` samples, also when 4 does not divide ``n_frames``."""
    log_mel = mel.log_mel(long_clip, config)[:, :n_frames]
    requested = []

    def frames(start, stop):
        requested.append((start, stop))
        return log_mel[:, start:stop]

    audio = np.concatenate(list(mel.audio_stream(frames, n_frames, config, stride=4, n_iter=2)))
    assert audio.shape == (n_frames * HOP,)
    assert requested[0][0] == 0 and requested[-1][1] == n_frames
    assert all(later[0] == earlier[1] for earlier, later in itertools.pairwise(requested))


def test_every_fourth_frame_is_enough_for_the_quality(config, long_clip):
    """SC against every frame's magnitude: the strided render is within 1 dB of the full one
    after the same number of iterations, though each of its iterations costs a quarter."""
    log_mel = mel.log_mel(long_clip, config)[:, :640]
    target = mel.to_magnitude(log_mel, config)

    def rendered(stride):
        return convergence(mel.to_audio(log_mel, config, stride=stride, n_iter=24), target)

    full, strided = rendered(1), rendered(4)
    assert strided < full + 1.0
    assert strided < -15.0
