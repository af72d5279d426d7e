"""Stage 2: warm start from ONNX, the critics, and adversarial training of tiny models."""

import copy
import csv
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.train

from musinterp_app.base.resources import default_model_dir  # noqa: E402
from musinterp_app.model import latent  # noqa: E402
from musinterp_app.model.onnx_vae import OnnxVAE  # noqa: E402
from musinterp_app.training.loop.adversarial import (  # noqa: E402
    AdversarialOptions,
    Stage2,
    encoder_state,
    train_adversarial,
)
from musinterp_app.training.networks import critics  # noqa: E402
from musinterp_app.training.networks.export import export, load_run  # noqa: E402
from musinterp_app.training.networks.warm_start import model_from_folder  # noqa: E402

TINY_STAGE2 = {
    "batch": 2,
    "crop_frames": 64,
    "discriminator_channels": 2,
    "discriminator_warmup_steps": 2,
    "validation_segments": 4,
}


def stage2_options(steps: int = 4, **changes) -> AdversarialOptions:
    return AdversarialOptions(**(TINY_STAGE2 | {"steps": steps, "validate_every": 2} | changes))


def test_the_shipped_model_reads_back_into_torch_and_decodes_as_onnxruntime_does(config):
    model, model_config, metadata = model_from_folder(default_model_dir())
    shipped = OnnxVAE(default_model_dir())
    assert model_config.arch == metadata["architecture"] == "hybrid"
    mel = np.random.default_rng(0).uniform(-1.6, 0.3, (config.n_mels, 160)).astype(np.float32)
    with torch.no_grad():
        mu, _ = model.encode(torch.from_numpy(mel[None]))
        decoded = model.decode(mu)[0].numpy()
    np.testing.assert_allclose(mu[0].numpy(), shipped.encode(mel), atol=1e-4)
    np.testing.assert_allclose(decoded, shipped.decode(shipped.encode(mel)), atol=1e-4)


def test_a_folder_without_the_weights_is_refused_by_name(exported, tmp_path):
    _, _, model_dir, _ = exported
    shutil.copytree(model_dir, tmp_path / "model")
    shutil.copyfile(default_model_dir() / "encoder.onnx", tmp_path / "model" / "encoder.onnx")
    with pytest.raises(ValueError, match="come from different models"):
        model_from_folder(tmp_path / "model")  # the shipped encoder beside a tiny decoder


@pytest.mark.parametrize("mode", latent.MODES)
def test_the_critics_blend_latents_as_the_app_does(mode):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 8, 5)).astype(np.float32)
    alphas = np.array([0.0, 0.3, 1.0], np.float32)
    blended = critics.blend_latents(
        torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(alphas),
        torch.full((3,), mode == "slerp"),
    ).numpy()  # fmt: skip
    expected = np.stack([latent.blend(x, y, w, mode) for x, y, w in zip(a, b, alphas, strict=True)])
    np.testing.assert_allclose(blended, expected, atol=1e-5)


def test_hinge_losses_reward_telling_real_from_fake():
    def outputs(value):
        return [([torch.zeros(1)], torch.full((2, 1, 3, 3), value))]

    confident = critics.hinge_discriminator_loss(outputs(2.0), [outputs(-2.0)])
    fooled = critics.hinge_discriminator_loss(outputs(-1.0), [outputs(1.0)])
    assert confident.item() == 0.0 and fooled.item() == pytest.approx(4.0)
    assert critics.hinge_generator_loss(outputs(3.0)) < critics.hinge_generator_loss(outputs(-3.0))


def test_the_discriminator_judges_patches_at_three_scales(config):
    discriminator = critics.MultiScaleDiscriminator(channels=2)
    outputs = discriminator(torch.zeros(2, config.n_mels, 100))
    assert [logits.shape[2:] for _, logits in outputs] == [(32, 25), (16, 13), (8, 7)]


def test_stage2_trains_the_decoder_alone_and_exports(exported, cache, tmp_path):
    """Every architecture: a few adversarial steps with the interpolation critic change the
    decoder, leave the encoder bit-identical, log and export a model the app loads."""
    arch, _, model_dir, _ = exported
    start, _, _ = model_from_folder(model_dir)
    before = encoder_state(start)
    decoder_before = {k: v.clone() for k, v in start.state_dict().items() if k not in before}
    run = tmp_path / "stage2"
    summary = train_adversarial(cache[0], run, model_dir, stage2_options(), progress=False)
    assert summary["steps"] == 4
    trained = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    for name, tensor in before.items():
        assert torch.equal(trained[name], tensor), f"{arch}: {name} changed"
    assert any(not torch.equal(trained[k], v) for k, v in decoder_before.items())
    with open(run / "log.csv") as handle:
        log = list(csv.DictReader(handle))
    assert [row["step"] for row in log] == ["2", "4"]
    assert float(log[0]["adaptive_weight"]) == 0.0  # the discriminator's warm-up
    assert float(log[1]["adaptive_weight"]) > 0.0 and float(log[1]["interpolation"]) != 0.0
    config = json.loads((run / "config.json").read_text())
    assert config["start"]["model_folder"] == str(model_dir)
    export(run, tmp_path / "model", commands="pytest")
    model = OnnxVAE(tmp_path / "model")
    assert model.info.architecture == arch
    reloaded, _ = load_run(run)
    for name, tensor in before.items():
        assert torch.equal(reloaded.state_dict()[name], tensor)


def test_without_the_critic_no_interpolants_are_judged(exported, cache, tmp_path):
    _, _, model_dir, _ = exported
    options = stage2_options(interpolation_weight=0.0)
    train_adversarial(cache[0], tmp_path / "plain", model_dir, options, progress=False)
    with open(tmp_path / "plain" / "log.csv") as handle:
        assert float(list(csv.DictReader(handle))[-1]["interpolation"]) == 0.0


def test_the_alpha_critic_loss_is_zero_only_for_right_answers():
    mixedness = torch.tensor([0.2, 0.5, 0.35])
    right = critics.alpha_critic_loss(mixedness.clone(), mixedness, torch.zeros(3))
    assert right.item() == 0.0
    fooled = critics.alpha_critic_loss(torch.zeros(3), mixedness, torch.zeros(3))
    anchors_wrong = critics.alpha_critic_loss(mixedness.clone(), mixedness, torch.full((3,), 0.5))
    assert fooled.item() == pytest.approx((mixedness**2).mean().item())
    assert anchors_wrong.item() == pytest.approx(0.25)


def test_the_alpha_critic_pushes_the_decoder_and_leaves_the_encoder(
    cache, tmp_path, tmp_path_factory
):
    """critic="alpha" (ACAI's form): the α critic trains beside the discriminator, its push
    reaches the decoder after the warm-up, and the encoder stays bit-identical."""
    from support.tiny_models import train_and_export

    model_dir = train_and_export("hybrid", cache, tmp_path_factory)[2]
    start, _, _ = model_from_folder(model_dir)
    before = encoder_state(start)
    run = tmp_path / "alpha"
    train_adversarial(cache[0], run, model_dir, stage2_options(critic="alpha"), progress=False)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4 and "alpha_critic" in state
    for name, tensor in before.items():
        assert torch.equal(state["model"][name], tensor), name
    with open(run / "log.csv") as handle:
        log = list(csv.DictReader(handle))
    assert float(log[0]["interpolation_adaptive_weight"]) == 0.0  # the warm-up
    assert float(log[1]["interpolation_adaptive_weight"]) > 0.0
    assert json.loads((run / "config.json").read_text())["adversarial"]["critic"] == "alpha"
    with pytest.raises(ValueError, match="choose one of fake, alpha"):
        AdversarialOptions(critic="ranking")
    with pytest.raises(ValueError, match="needs an --interpolation-weight above 0"):
        AdversarialOptions(critic="alpha", interpolation_weight=0.0)


@pytest.mark.parametrize("posterior_noise", [0.0, 1.0])
def test_posterior_noise_sets_what_the_decodes_are_made_from(
    posterior_noise, cache, tmp_path_factory
):
    """0: the decoder is trained on the means (another noise draw changes nothing); 1: on
    the posterior draws stage 1 trained it on."""
    from support.tiny_models import train_and_export

    model_dir = train_and_export("hybrid", cache, tmp_path_factory)[2]
    model, _, _ = model_from_folder(model_dir)
    options = stage2_options(posterior_noise=posterior_noise)
    batch = torch.from_numpy(
        np.random.default_rng(3).uniform(-1.5, 0.3, (2, model.config.n_mels, 64))
    ).float()
    latent_shape = model.encode(batch)[0].shape
    recon = []
    for seed in (1, 2):
        trainer = Stage2(copy.deepcopy(model), options, OnnxVAE(model_dir).mel_config)
        noise = torch.randn(latent_shape, generator=torch.Generator().manual_seed(seed))
        terms = trainer.step(batch, noise, torch.full((2,), 0.5), torch.ones(2, dtype=bool))
        recon.append(terms["recon"])
    assert (recon[0] == recon[1]) == (posterior_noise == 0.0)


@pytest.mark.parametrize("critic", ["fake", "alpha"])
def test_a_stopped_stage2_resumes_to_the_uninterrupted_result(
    critic, cache, tmp_path, tmp_path_factory
):
    from support.tiny_models import train_and_export

    model_dir = train_and_export("hybrid", cache, tmp_path_factory)[2]
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    options = {"validate_every": 1, "lr": 1e-3, "lr_warmup_steps": 1, "critic": critic}
    train_adversarial(cache[0], straight, model_dir, stage2_options(6, **options), progress=False)
    train_adversarial(
        cache[0], stopped, model_dir, stage2_options(6, **options), stop_after_steps=3,
        progress=False,
    )  # fmt: skip
    train_adversarial(
        cache[0], stopped, model_dir, AdversarialOptions(), resume=True, progress=False
    )
    weights = [torch.load(run / "checkpoint.pt", weights_only=True) for run in (straight, stopped)]
    assert weights[0]["step"] == weights[1]["step"] == 6
    logs = []
    for run in (straight, stopped):
        with open(run / "log.csv") as handle:
            logs.append(list(csv.DictReader(handle)))
    assert [row["step"] for row in logs[1]] == [str(k) for k in range(1, 7)]
    # The same batches and losses, step by step, within 1 % (another batch differs by tens
    # of per cent). Not bit for bit: oneDNN's threads sum in varying order, and the GAN and
    # Adam amplify that (two straight runs differ by 0.3 % in the discriminator's loss).
    for a, b in zip(*logs, strict=True):
        columns = ["recon", "val_mae_db", "val_detail_ratio"]
        columns += ["alpha_critic"] if critic == "alpha" else []  # its state came back too
        for column in columns:
            assert float(b[column]) == pytest.approx(float(a[column]), rel=1e-2)
    with pytest.raises(ValueError, match=r"--lr 0\.5 differs"):
        train_adversarial(
            cache[0], stopped, model_dir, AdversarialOptions(lr=0.5), resume=True, progress=False
        )
