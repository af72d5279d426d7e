"""audio.io: real files in every format, every kind of bad input, atomic writes."""

import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import soxr
from support.commands import child_env
from support.corpus import BAD_INPUT_MESSAGES, stereo_clip

from musinterp_app.audio import io, synth

RATE = 32768


FORMATS = [
    ("clip.wav", 44100, {"subtype": "PCM_16"}, 0.999),
    ("clip.flac", 44100, {}, 0.999),
    ("clip.aiff", 22050, {}, 0.999),
    ("clip.ogg", 44100, {"subtype": "VORBIS"}, 0.95),
    ("clip.opus", 48000, {"format": "OGG", "subtype": "OPUS"}, 0.9),
    ("clip.mp3", 44100, {}, 0.9),
]


@pytest.mark.parametrize(("name", "rate", "kwargs", "min_correlation"), FORMATS)
def test_every_format_loads_as_mono_at_the_requested_rate(
    write_clip, name, rate, kwargs, min_correlation
):
    samples = stereo_clip(rate)
    path = write_clip(name, samples, rate, **kwargs)

    loaded = io.load(path, sample_rate=RATE)

    expected = soxr.resample(samples.mean(axis=1), rate, RATE)
    assert loaded.dtype == np.float32 and loaded.ndim == 1
    assert abs(len(loaded) - len(expected)) <= 2 * RATE // 1000  # codec padding: ≤ 2 ms
    n = min(len(loaded), len(expected))
    # Lossy codecs may delay the signal a little: allow the best lag within 10 ms.
    lags = range(-RATE // 100, RATE // 100 + 1, 4)
    best = max(
        np.corrcoef(
            np.roll(loaded[:n], lag)[RATE // 10 : n - RATE // 10],
            expected[RATE // 10 : n - RATE // 10],
        )[0, 1]
        for lag in lags
    )
    assert best >= min_correlation


def test_excerpt_reads_only_the_requested_part(write_clip):
    samples = stereo_clip(RATE, seconds=4.0)
    path = write_clip("long.wav", samples, RATE, subtype="FLOAT")

    excerpt = io.load(path, sample_rate=RATE, offset_s=1.5, duration_s=1.0)

    whole = io.load(path, sample_rate=RATE)
    assert len(excerpt) == RATE
    np.testing.assert_allclose(excerpt, whole[int(1.5 * RATE) : int(2.5 * RATE)], atol=1e-6)


def test_excerpt_past_the_end_is_cut_at_the_end(write_clip):
    path = write_clip("short.wav", stereo_clip(RATE, seconds=2.0), RATE)
    assert len(io.load(path, sample_rate=RATE, offset_s=1.5, duration_s=5.0)) == RATE // 2


def test_many_channels_are_averaged(write_clip):
    channels = np.stack([np.full(9600, k / 10, dtype=np.float32) for k in range(8)], axis=1)
    path = write_clip("eight.wav", channels, 96000, subtype="FLOAT")

    loaded = io.load(path, sample_rate=96000)

    np.testing.assert_allclose(loaded, np.full(9600, 0.35), atol=1e-6)
    assert io.probe(path).channels == 8


def test_progress_reports_frames_and_cancel_stops_decoding(write_clip):
    from musinterp_app.audio.cancel import Cancelled, CancelToken

    path = write_clip("big.wav", np.zeros(5 * io.READ_BLOCK_FRAMES, np.float32), RATE)
    seen = []
    io.load(path, sample_rate=RATE, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (5 * io.READ_BLOCK_FRAMES,) * 2
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)

    token = CancelToken()

    def cancel_after_first_block(done: int, total: int) -> None:
        token.cancel()

    with pytest.raises(Cancelled):
        io.load(path, sample_rate=RATE, cancel=token, progress=cancel_after_first_block)


@pytest.mark.parametrize("name", sorted(BAD_INPUT_MESSAGES))
def test_bad_input_gives_one_clear_error(bad_inputs, name):
    path = bad_inputs[name]

    with pytest.raises(io.AudioLoadError) as caught:
        io.load(path, sample_rate=RATE, min_duration_s=0.5)

    message = str(caught.value)
    assert BAD_INPUT_MESSAGES[name] in message
    assert message.startswith(f"Cannot use “{path.name}”")
    assert "\n" not in message


def test_unreadable_file_says_permission_denied(shared_folder):
    path = shared_folder / "locked.wav"
    sf.write(path, np.zeros(44100, np.float32), 44100)
    path.chmod(0)
    check = (
        "from musinterp_app.audio import io\n"
        "from support.commands import become_ordinary_user\n"
        "become_ordinary_user()\n"
        "try:\n"
        f"    io.load({str(path)!r}, sample_rate=32768)\n"
        "except io.AudioLoadError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=False, env=child_env()
    )
    assert "permission denied" in result.stdout, result.stderr


def test_probe_reads_the_header_only(write_clip):
    path = write_clip("probe.flac", stereo_clip(44100, seconds=3.0), 44100)
    info = io.probe(path)
    assert (info.sample_rate, info.channels, info.frames) == (44100, 2, 3 * 44100)
    assert info.duration_s == pytest.approx(3.0)
    assert info.format == "FLAC"


@pytest.mark.parametrize(
    ("name", "sample_format", "subtype", "tolerance"),
    [
        ("out.wav", "16", "PCM_16", 1 / 32768),
        ("out.wav", "24", "PCM_24", 1 / 2**23),
        ("out.wav", "float", "FLOAT", 0.0),
        ("out.flac", "24", "PCM_24", 1 / 2**23),
        ("out.ogg", "16", "VORBIS", None),
    ],
)
def test_saved_audio_round_trips_in_the_format_its_name_says(
    tmp_path, name, sample_format, subtype, tolerance
):
    samples = synth.music_like(1.0, RATE, rng=np.random.default_rng(0))
    path = io.save_audio(tmp_path / name, samples, RATE, sample_format=sample_format)

    assert sf.info(path).subtype == subtype
    assert sf.info(path).format == {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}[path.suffix]
    back = io.load(path, sample_rate=RATE)
    if tolerance is None:  # lossy: the same music, not the same samples
        assert np.corrcoef(back[: len(samples)], samples)[0, 1] > 0.99
    else:
        np.testing.assert_allclose(back, samples, atol=tolerance)
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize(
    ("name", "sample_format", "message"),
    [
        ("out.mp3", "16", "choose a name ending in .wav, .flac, .ogg"),
        ("out", "16", "choose a name ending in"),
        ("out.flac", "float", "FLAC has no float samples"),
        ("out.wav", "12", "Unknown sample format '12'"),
    ],
)
def test_a_name_or_format_that_cannot_be_written_is_refused(tmp_path, name, sample_format, message):
    with pytest.raises(io.AudioSaveError, match=re.escape(message)):
        io.save_audio(tmp_path / name, np.zeros(100, np.float32), RATE, sample_format=sample_format)
    assert not list(tmp_path.iterdir())


def test_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "keep.wav"
    original = synth.music_like(1.0, RATE, rng=np.random.default_rng(1))
    io.save_audio(target, original, RATE)
    before = target.read_bytes()

    real_write = sf.SoundFile.write

    def write_half_then_fail(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sf.SoundFile, "write", write_half_then_fail)
    with pytest.raises(io.AudioSaveError, match=r"disk is full; .* \(No space left on device\)"):
        io.save_audio(target, np.zeros(RATE, np.float32), RATE)

    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]


def test_save_into_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(io.AudioSaveError, match="does not exist"):
        io.save_audio(tmp_path / "gone" / "out.wav", np.zeros(100, np.float32), RATE)


def test_save_refuses_non_finite_audio(tmp_path):
    with pytest.raises(io.AudioSaveError, match="NaN or infinity"):
        io.save_audio(tmp_path / "out.wav", np.array([0.0, np.nan], np.float32), RATE)
    assert not list(tmp_path.iterdir())
