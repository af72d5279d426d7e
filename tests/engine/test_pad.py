"""The four-corner pad: exact corners, edges that are two-track blends, paths without clicks."""

import itertools

import numpy as np
import pytest
from support.engines import engine_with

from musinterp_app.audio import stft, synth
from musinterp_app.engine import DECODE_BLOCK_FRAMES, BlendSettings, Engine, PadSettings
from musinterp_app.engine.caches import _DecodedBlocks
from musinterp_app.model import latent

ROOTS = {"A": 45, "B": 52, "C": 60, "D": 67}


def four_corners(model, folder, excerpt_s: float) -> Engine:
    """An engine with a generated clip (a second longer than ``excerpt_s``) on each corner."""
    clips = {
        slot: synth.music_like(
            excerpt_s + 1.0, 32768, rng=np.random.default_rng(root), root_midi=root
        )
        for slot, root in ROOTS.items()
    }
    return engine_with(model, clips, folder=folder, rate=32768, excerpt_s=excerpt_s)


@pytest.fixture(scope="module")
def pad(shipped_model, tmp_path_factory):
    return four_corners(shipped_model, tmp_path_factory.mktemp("corners"), 4.0)


CORNERS = {"A": (0.0, 0.0), "B": (1.0, 0.0), "C": (0.0, 1.0), "D": (1.0, 1.0)}


@pytest.mark.parametrize("mode", latent.MODES)
@pytest.mark.parametrize("slot", sorted(CORNERS))
def test_each_corner_is_its_track_exactly(pad, slot, mode):
    x, y = CORNERS[slot]
    settings = PadSettings(x=x, y=y, mode=mode)
    track = pad.tracks[slot]
    np.testing.assert_array_equal(pad.blend_latent(settings), track.latent)
    audio = pad.render(settings)
    np.testing.assert_array_equal(audio, track.samples[: len(audio)])


@pytest.mark.parametrize("mode", latent.MODES)
def test_the_top_edge_is_the_two_track_blend(pad, mode):
    on_pad = pad.blend_mel(PadSettings(x=0.3, y=0.0, mode=mode))
    two_tracks = pad.blend_mel(BlendSettings(alpha=0.3, mode=mode))
    np.testing.assert_allclose(on_pad, two_tracks, atol=1e-5)


def test_lerp_is_the_bilinear_sum_of_the_corners():
    rng = np.random.default_rng(0)
    corners = tuple(rng.standard_normal((8, 5)).astype(np.float32) for _ in range(4))
    shares = latent.pad_shares(0.3, 0.7)
    expected = latent.weighted_sum(list(corners), shares)
    np.testing.assert_allclose(latent.bilinear(corners, 0.3, 0.7), expected, atol=1e-6)
    assert shares.sum() == pytest.approx(1.0)


def test_the_centre_draws_on_all_four(pad):
    centre = pad.blend_mel(PadSettings(x=0.5, y=0.5))
    for slot in CORNERS:
        other = pad.blend_mel(PadSettings(*CORNERS[slot]))
        assert np.mean(np.abs(centre - other)) > 0.05, slot


def test_a_path_visits_its_points_and_has_no_clicks_at_chunk_joins(pad, shipped_model):
    path = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    settings = PadSettings(path=path)
    frames = pad.frames_of(settings)
    x, y = settings.position(frames)
    assert (x[0], y[0], x[-1], y[-1]) == (0.0, 0.0, 0.0, 1.0)
    audio = pad.render(settings)
    assert len(audio) == frames * shipped_model.mel_config.hop_length
    # a click is a jump far above the signal's own sample-to-sample changes
    jumps = np.abs(np.diff(audio))
    assert jumps.max() < 8 * np.percentile(jumps, 99.9)
    # the path's start sounds like A, its end like C
    config = shipped_model.mel_config
    spectrum = stft.magnitude(audio, n_fft=config.n_fft, hop_length=config.hop_length)
    for slot, frames_at in (("A", slice(0, 40)), ("C", slice(-40, None))):
        own = stft.magnitude(pad.tracks[slot].samples, n_fft=config.n_fft, hop_length=256)
        others = [
            stft.magnitude(pad.tracks[s].samples, n_fft=config.n_fft, hop_length=256)
            for s in CORNERS
            if s != slot
        ]

        def distance(reference, part=frames_at):
            return np.mean(np.abs(np.log1p(spectrum[:, part]) - np.log1p(reference[:, part])))

        assert distance(own) < min(distance(other) for other in others), slot


def test_pad_needs_all_four_tracks(shipped_model, pad):
    two = Engine(shipped_model)
    two.set_track("A", pad.tracks["A"])
    two.set_track("B", pad.tracks["B"])
    with pytest.raises(ValueError, match="all four tracks"):
        two.blend_mel(PadSettings())


@pytest.mark.parametrize(
    "bad",
    [{"x": 1.5}, {"y": -0.1}, {"path": ((0.0, 0.0),)}, {"path": ((0.0, 2.0), (1.0, 1.0))}],
)
def test_positions_off_the_pad_are_refused(bad):
    with pytest.raises(ValueError):
        PadSettings(**bad)


def test_decoded_blocks_serve_requests_that_straddle_a_block_end():
    decoded = []

    def decode(start, stop):
        decoded.append((start, stop))
        return np.arange(start, stop, dtype=np.float32)[None, :]

    frames = 3 * DECODE_BLOCK_FRAMES
    blocks = _DecodedBlocks(decode, frames)
    edges = [0, 48, *range(112, frames, 256), frames]  # the stream's chunks: not block-aligned
    for start, stop in itertools.pairwise(edges):
        np.testing.assert_array_equal(blocks(start, stop)[0], np.arange(start, stop))
    covered = sum(stop - start for start, stop in decoded)
    assert covered == frames  # each frame decoded once
    with pytest.raises(ValueError, match="out of order"):
        blocks(0, 10)


def test_a_long_path_morph_renders_to_its_full_length(shipped_model, tmp_path):
    engine = four_corners(shipped_model, tmp_path, 20.0)
    settings = PadSettings(path=((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))
    chunks = list(engine.render_stream(settings))
    audio = np.concatenate(chunks)
    assert len(audio) == 20 * 32768
    jumps = np.abs(np.diff(audio))
    joins = np.cumsum([len(chunk) for chunk in chunks])[:-1]
    assert jumps[joins - 1].max() < np.percentile(jumps, 99.9) * 2  # no click where chunks meet
