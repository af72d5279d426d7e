"""Unconditioned generation: the engine's and `musinterp generate`'s, on the shipped model."""

import shutil

import numpy as np
import pytest
import soundfile as sf
from support.commands import musinterp

from musinterp_app.base import limits
from musinterp_app.base.resources import default_model_dir
from musinterp_app.engine import Engine
from musinterp_app.model import prior
from musinterp_app.model.onnx_vae import OnnxVAE


@pytest.fixture(scope="module")
def generator(shipped_model) -> Engine:
    return Engine(shipped_model)


def test_the_shipped_model_has_a_fitted_prior(generator):
    assert generator.latent_prior().fitted


@pytest.mark.parametrize("kind", prior.KINDS)
def test_generated_audio_is_music_length_as_asked_and_the_seed_repeats_it(generator, kind):
    rate = generator.config.sample_rate
    audio = generator.generate(2.0, temperature=0.8, seed=3, kind=kind, n_iter=4)
    assert audio.dtype == np.float32 and len(audio) == 2 * rate
    assert np.isfinite(audio).all()
    assert np.sqrt(np.mean(audio**2)) > 1e-3 and np.abs(audio).max() <= 1.0
    again = generator.generate(2.0, temperature=0.8, seed=3, kind=kind, n_iter=4)
    np.testing.assert_array_equal(audio, again)
    other = generator.generate(2.0, temperature=0.8, seed=4, kind=kind, n_iter=4)
    assert np.abs(other - audio).max() > 1e-2


def test_smooth_priors_move_slowly_and_temperature_scales_the_spread(generator):
    source = generator.latent_prior()
    rng = np.random.default_rng(0)

    def lag_one_correlation(z):
        z = z - z.mean(axis=1, keepdims=True)
        return float((z[:, 1:] * z[:, :-1]).sum() / (z * z).sum())

    smooth = {
        kind: lag_one_correlation(source.sample(400, kind=kind, rng=rng)) for kind in prior.KINDS
    }
    assert smooth["ar"] > 0.4 and smooth["spectral"] > 0.3 and abs(smooth["white"]) < 0.1
    tame = source.sample(400, kind="spectral", temperature=0.5, rng=np.random.default_rng(1))
    wild = source.sample(400, kind="spectral", temperature=1.0, rng=np.random.default_rng(1))
    np.testing.assert_allclose(
        tame - source.mean[:, None], 0.5 * (wild - source.mean[:, None]), atol=1e-5
    )


def test_values_out_of_range_are_refused(generator):
    for options, message in [
        ({"seconds": 0.1}, "the length"),
        ({"temperature": 4.0}, "the temperature"),
        ({"seed": -1}, "the seed"),
    ]:
        with pytest.raises(limits.OptionError, match=message):
            generator.generate(**{"seconds": 1.0, **options})


@pytest.fixture
def bare_model(tmp_path):
    """A copy of the shipped model folder without its prior."""
    folder = tmp_path / "model"
    shutil.copytree(default_model_dir(), folder, ignore=shutil.ignore_patterns(prior.PRIOR_FILE))
    return folder


def test_a_model_without_a_prior_falls_back_to_the_nominal_one_and_says_so(bare_model, tmp_path):
    engine = Engine(OnnxVAE(bare_model))
    assert not engine.latent_prior().fitted
    result = musinterp(
        "generate", "--seconds", "1", "--model", bare_model, "-o", tmp_path / "out.wav"
    )
    assert result.returncode == 0, result.stderr
    assert "no fitted prior" in result.stderr


def test_a_prior_of_another_model_or_a_damaged_one_is_refused_in_one_line(bare_model, tmp_path):
    model = OnnxVAE(bare_model)
    prior.LatentPrior.nominal(model.info.latent_channels, "someone-else").save(bare_model)
    result = musinterp(
        "generate", "--seconds", "1", "--model", bare_model, "-o", tmp_path / "a.wav"
    )
    assert result.returncode == 1
    assert "fitted for model someone-else" in result.stderr
    assert not (tmp_path / "a.wav").exists()
    (bare_model / prior.PRIOR_FILE).write_bytes(b"not a zip")
    with pytest.raises(prior.PriorError, match="damaged"):
        Engine(model).latent_prior()
    whole = prior.LatentPrior.nominal(model.info.latent_channels, model.info.model_id)
    path = whole.save(bare_model)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # cut short: BadZipFile
    result = musinterp(
        "generate", "--seconds", "1", "--model", bare_model, "-o", tmp_path / "b.wav"
    )
    assert result.returncode == 1 and "damaged" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "b.wav").exists()


def test_the_command_writes_the_length_asked_and_repeats_with_the_seed(tmp_path):
    paths = [tmp_path / "one.wav", tmp_path / "two.wav"]
    for path in paths:
        result = musinterp(
            "generate", "--seconds", "3", "--temperature", "0.8", "--seed", "3", "--iterations",
            "4", "-o", path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "3.00 s made by the model “default” from seed 3" in result.stdout
    audio, rate = sf.read(paths[0], dtype="float32")
    assert len(audio) == 3 * rate and np.abs(audio).max() > 0.5  # peak-normalised, not silent
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_without_a_name_or_seed_it_picks_a_fresh_name_and_says_the_seed(tmp_path):
    (tmp_path / "taken.wav").write_bytes(b"")
    names = []
    for _ in range(2):
        result = musinterp("generate", "--seconds", "1", "--iterations", "2", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        seed = int(result.stdout.split("--seed ")[1].split(")")[0])
        names.append(result.stdout.split()[1].rstrip(":"))
        assert names[-1].endswith(f"generated-{seed}.wav") and 0 <= seed < 2**32
    assert names[0] != names[1]  # a new seed, a new file: nothing written over
    assert sorted(p.name for p in tmp_path.iterdir())[-1] == "taken.wav"
    help_text = musinterp("generate", "-h").stdout
    assert "0 … 4294967295" in help_text and "e+09" not in help_text


@pytest.mark.parametrize("option", [("--temperature", "9"), ("--prior", "pink")])
def test_bad_options_get_one_line(option, tmp_path):
    result = musinterp("generate", *option, "-o", tmp_path / "x.wav")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and option[0] in result.stderr
    assert not (tmp_path / "x.wav").exists()
