"""model.prior: a saved prior loads back as it was; a damaged one, one for another model or an
oversized file is refused in words; samples have the prior's shape and spread."""

import numpy as np
import pytest

from musinterp_app.model import prior
from musinterp_app.model.prior import LatentPrior, PriorError


def fitted(channels: int = 4) -> LatentPrior:
    rng = np.random.default_rng(0)
    tril = np.tril(rng.normal(size=(channels, channels))) + 3 * np.eye(channels)
    return LatentPrior(
        model_id="abc123",
        mean=rng.normal(size=channels),
        scale_tril=tril,
        filters=np.ones((channels, 3)) / np.sqrt(3),
        ar_weights=0.3 * np.eye(channels)[None],
        ar_bias=np.zeros(channels),
        ar_noise_tril=np.eye(channels),
    )


def test_a_saved_prior_loads_back_as_it_was(tmp_path):
    saved = fitted()
    saved.save(tmp_path)
    loaded = prior.load(tmp_path, model_id="abc123", channels=4)
    for name in ("mean", "scale_tril", "filters", "ar_weights", "ar_bias", "ar_noise_tril"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(saved, name))
    assert loaded.fitted and loaded.model_id == "abc123"
    assert prior.load(tmp_path / "elsewhere", model_id="abc123", channels=4) is None


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda path: path.write_bytes(b"not a zip"), "is damaged or not a latent prior"),
        (lambda path: path.write_bytes(path.read_bytes()[:100]), "is damaged or not a latent"),
        (lambda path: fitted(3).save(path.parent), "was fitted for model abc123 (3 channels)"),
    ],
)
def test_an_unusable_prior_is_refused_in_words(tmp_path, damage, words):
    fitted().save(tmp_path)
    damage(tmp_path / prior.PRIOR_FILE)
    with pytest.raises(PriorError, match=words.replace("(", r"\(").replace(")", r"\)")):
        prior.load(tmp_path, model_id="abc123", channels=4)


def test_an_oversized_file_is_refused_without_being_read_whole(tmp_path, monkeypatch):
    fitted().save(tmp_path)
    monkeypatch.setattr(prior, "MAX_PRIOR_BYTES", 64)
    with pytest.raises(PriorError, match="larger than"):
        prior.load(tmp_path, model_id="abc123", channels=4)


@pytest.mark.parametrize("kind", prior.KINDS)
def test_samples_have_the_prior_shape_and_spread(kind):
    source = fitted()
    z = source.sample(4000, kind=kind, temperature=1.0, rng=np.random.default_rng(1))
    assert z.shape == (4, 4000) and z.dtype == np.float32
    cold = source.sample(4000, kind=kind, temperature=0.0, rng=np.random.default_rng(1))
    assert cold.std(axis=1).max() < 1e-6  # temperature 0: the mean (or the walk's centre)
    assert source.sample(0, kind=kind, rng=np.random.default_rng(2)).shape == (4,)
    assert np.isfinite(z).all() and z.std() > 0.5
