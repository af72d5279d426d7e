"""The engine: tracks, excerpts, blending with and without detail, morph, render, export."""

import numpy as np
import pytest
import soundfile as sf

from musinterp_app import engine, resources
from musinterp_app.audio import synth
from musinterp_app.engine import BlendSettings, Engine
from musinterp_app.model.onnx_vae import OnnxVAE


@pytest.fixture(scope="module")
def model():
    return OnnxVAE(resources.default_model_dir())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    paths = {}
    for name, seconds, root in [("a.wav", 9.0, 48), ("b.flac", 7.0, 62), ("short.ogg", 2.0, 55)]:
        clip = synth.music_like(seconds, 44100, rng=np.random.default_rng(root), root_midi=root)
        sf.write(folder / name, np.stack([clip, clip], axis=1), 44100)
        paths[name] = folder / name
    return paths


@pytest.fixture(scope="module")
def blender(model, files):
    result = Engine(model)
    result.set_track("A", engine.load_track(files["a.wav"], model, start_s=1.0))
    result.set_track("B", engine.load_track(files["b.flac"], model))
    return result


def test_track_holds_the_excerpt_and_an_overview(blender, model):
    track = blender.tracks["A"]
    assert track.name == "a.wav" and track.info.duration_s == pytest.approx(9.0)
    assert (track.start_s, track.duration_s) == (1.0, 5.0)
    assert track.samples.shape == (5 * 32768,)
    assert track.mel.shape == track.decoded.shape == (512, 640)
    assert track.latent.shape == (model.info.latent_channels, 640 // model.info.time_reduction)
    assert 0 < track.overview.shape[1] <= engine.OVERVIEW_COLUMNS
    assert track.overview.shape[1] * track.overview_seconds_per_column == pytest.approx(
        9.0, abs=0.1
    )


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_keep_detail_gives_the_originals_at_the_ends(blender, mode):
    a, b = blender.tracks["A"], blender.tracks["B"]
    at_a = blender.blend_mel(BlendSettings(alpha=0.0, mode=mode))
    at_b = blender.blend_mel(BlendSettings(alpha=1.0, mode=mode))
    np.testing.assert_allclose(at_a, a.mel, atol=1e-5)
    np.testing.assert_allclose(at_b, b.mel, atol=1e-5)


def test_without_detail_the_ends_are_the_model_output(blender):
    at_a = blender.blend_mel(BlendSettings(alpha=0.0, keep_detail=False))
    np.testing.assert_allclose(at_a, blender.tracks["A"].decoded, atol=1e-5)


def test_the_middle_lies_between(blender):
    a, b = blender.tracks["A"], blender.tracks["B"]
    middle = blender.blend_mel(BlendSettings(alpha=0.5))
    to_a, to_b = np.abs(middle - a.mel).mean(), np.abs(middle - b.mel).mean()
    assert to_a < np.abs(a.mel - b.mel).mean() and to_b < np.abs(a.mel - b.mel).mean()


def test_morph_starts_like_a_and_ends_like_b(blender):
    a, b = blender.tracks["A"], blender.tracks["B"]
    morph = blender.blend_mel(BlendSettings(morph=True))
    first, last = slice(0, 64), slice(-64, None)
    assert (
        np.abs(morph[:, first] - a.mel[:, first]).mean()
        < np.abs(morph[:, first] - b.mel[:, first]).mean()
    )
    assert (
        np.abs(morph[:, last] - b.mel[:, last]).mean()
        < np.abs(morph[:, last] - a.mel[:, last]).mean()
    )


@pytest.mark.parametrize("settings", [BlendSettings(alpha=0.3), BlendSettings(morph=True)])
def test_a_window_of_the_blend_equals_the_same_part_of_the_whole(blender, settings):
    whole = blender.blend_mel(settings)
    for start, stop in [(0, 48), (100, 164), (600, 640)]:
        np.testing.assert_allclose(
            blender.blend_mel(settings, start, stop), whole[:, start:stop], atol=1e-4
        )


def test_short_file_is_padded_with_silence(model, files):
    track = engine.load_track(files["short.ogg"], model, overview=False)
    assert track.mel.shape == (512, 640)
    np.testing.assert_allclose(track.mel[:, 300:], model.mel_config.floor_normalised)


def test_excerpt_start_past_the_end_is_pulled_back(model, files):
    track = engine.load_track(files["b.flac"], model, start_s=100.0, overview=False)
    assert track.start_s == pytest.approx(7.0 - engine.MIN_EXCERPT_S)


def test_render_and_export(blender, tmp_path):
    audio = blender.render(BlendSettings(alpha=0.3))
    assert audio.shape == (640 * 256,) and np.isfinite(audio).all()
    path = engine.export_wav(tmp_path / "blend.wav", audio, 32768, float32=True)
    written, rate = sf.read(path, dtype="float32")
    assert rate == 32768
    assert np.abs(written).max() == pytest.approx(10 ** (-1 / 20), rel=1e-4)


def test_blending_needs_both_tracks(model):
    with pytest.raises(ValueError, match="load both tracks"):
        Engine(model).blend_mel(BlendSettings())
