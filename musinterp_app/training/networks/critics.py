"""Stage 2's critics: a multi-scale patch discriminator on the log-mel, its losses, and the
latent blends the interpolation critic judges (torch).

An L1-type loss is minimised by the average of the spectra a decoder is unsure
of, which sounds dull; a discriminator that has seen real log-mel patches makes
that average cost something (RAVE's second phase, the AudioLDM mel-VAE's patch
discriminator). Here one small 2-D convolutional discriminator looks at the
band-standardised log-mel ``[B, 1, n_mels, frames]`` at full resolution and
two more at 2× and 4× average pooling; each ends in a map of patch logits.

The interpolation critic judges decodes of latents *between* two pieces
(adversarially constrained interpolation, Berthelot et al. 2018), one of two ways:
the same discriminator counts them as fakes (``"fake"``), or a second network of
the same shape regresses how far between the two ends each one lies
(``"alpha"``, ACAI's own form: it learns min(α, 1 − α) on interpolants and 0 on
mixes of real crops with their decodes, and the decoder is pushed to make it
answer 0). Either way the decoder has to make every point between two pieces
look like real music, not like two spectra laid over each other.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

SLOPE = 0.2  # LeakyReLU slope, as in MelGAN and HiFi-GAN's discriminators


class PatchDiscriminator(nn.Module):
    """One scale: ``[B, 1, bands, frames]`` → its intermediate features and a patch-logit map.

    Strides halve the band axis four times and the time axis twice, so each
    logit judges a patch of about 60 bands × 30 frames of its input.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        c = channels
        shapes = [  # in, out, kernel, stride
            (1, c, (7, 3), (2, 2)),
            (c, 2 * c, (5, 3), (2, 1)),
            (2 * c, 4 * c, (5, 3), (2, 2)),
            (4 * c, 4 * c, (3, 3), (2, 1)),
        ]
        self.layers = nn.ModuleList(
            weight_norm(nn.Conv2d(i, o, k, stride=s, padding=(k[0] // 2, k[1] // 2)))
            for i, o, k, s in shapes
        )
        self.head = weight_norm(nn.Conv2d(4 * c, 1, 3, padding=1))

    def forward(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        features = []
        for layer in self.layers:
            image = F.leaky_relu(layer(image), SLOPE)
            features.append(image)
        return features, self.head(image)


class MultiScaleDiscriminator(nn.Module):
    """Three :class:`PatchDiscriminator`\\ s: full resolution, 2× and 4× average pooling.

    ``channels``: the first layer's width at full resolution; the pooled scales,
    four and sixteen times cheaper, get twice as many.
    """

    scales = (1, 2, 4)

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(channels if scale == 1 else 2 * channels) for scale in self.scales
        )

    def forward(self, standard: torch.Tensor) -> list[tuple[list[torch.Tensor], torch.Tensor]]:
        """``standard``: band-standardised log-mel ``[B, n_mels, frames]`` → per scale
        (features, logits)."""
        image = standard.unsqueeze(1)
        outputs = []
        for scale, discriminator in zip(self.scales, self.discriminators, strict=True):
            pooled = image if scale == 1 else F.avg_pool2d(image, scale)
            outputs.append(discriminator(pooled))
        return outputs


def hinge_discriminator_loss(
    real: list[tuple[list[torch.Tensor], torch.Tensor]],
    fakes: list[list[tuple[list[torch.Tensor], torch.Tensor]]],
) -> torch.Tensor:
    """Hinge loss of the discriminator: real logits above +1, every fake set's below −1
    (the fake sets weigh equally and together as much as the real one)."""
    loss = sum(F.relu(1.0 - logits).mean() for _, logits in real)
    for fake in fakes:
        loss = loss + sum(F.relu(1.0 + logits).mean() for _, logits in fake) / len(fakes)
    return loss / len(real)


def hinge_generator_loss(fake: list[tuple[list[torch.Tensor], torch.Tensor]]) -> torch.Tensor:
    """What the decoder minimises to be taken for real: −mean logit, over the scales."""
    return -sum(logits.mean() for _, logits in fake) / len(fake)


def feature_matching(
    real: list[tuple[list[torch.Tensor], torch.Tensor]],
    fake: list[tuple[list[torch.Tensor], torch.Tensor]],
) -> torch.Tensor:
    """Mean L1 between the discriminator's features of the real crops and of their decodes
    (the real features detached): a stable, per-example pull toward real texture."""
    terms = [
        (f - r.detach()).abs().mean()
        for (real_features, _), (fake_features, _) in zip(real, fake, strict=True)
        for r, f in zip(real_features, fake_features, strict=True)
    ]
    return sum(terms) / len(terms)


def alpha_estimates(outputs: list[tuple[list[torch.Tensor], torch.Tensor]]) -> torch.Tensor:
    """The α critic's estimate per example ``[B]``: each scale's patch map averaged, then
    the scales averaged."""
    return sum(logits.mean(dim=(1, 2, 3)) for _, logits in outputs) / len(outputs)


def alpha_critic_loss(
    interpolants: torch.Tensor, mixedness: torch.Tensor, anchors: torch.Tensor
) -> torch.Tensor:
    """ACAI's critic loss: squared error of the estimates of the interpolants ``[B]``
    against their ``mixedness`` min(α, 1 − α) ``[B]``, plus the estimates of the anchors
    ``[B]`` (mixes of real crops and their decodes) against 0."""
    return (interpolants - mixedness).pow(2).mean() + anchors.pow(2).mean()


def blend_latents(
    a: torch.Tensor, b: torch.Tensor, alpha: torch.Tensor, spherical: torch.Tensor
) -> torch.Tensor:
    """Rows of ``a`` and ``b`` (``[B, C, frames]`` or ``[B, C]``) a fraction ``alpha`` ``[B]``
    of the way from one to the other, each latent frame's channel vector along the chord
    (lerp) or, where ``spherical`` ``[B]`` (bool) is set, the great circle (slerp), as
    :func:`musinterp_app.model.latent.blend` does in the app."""
    shape = (-1,) + (1,) * (a.dim() - 1)
    weight = alpha.view(shape)
    linear = (1 - weight) * a + weight * b
    cosine = F.cosine_similarity(a, b, dim=1, eps=1e-12).clamp(-1.0, 1.0).unsqueeze(1)
    omega = torch.arccos(cosine)
    sin_omega = torch.sin(omega)
    safe = sin_omega > 1e-4
    sin_safe = torch.where(safe, sin_omega, torch.ones_like(sin_omega))
    from_a = torch.where(safe, torch.sin((1 - weight) * omega) / sin_safe, 1 - weight)
    from_b = torch.where(safe, torch.sin(weight * omega) / sin_safe, weight)
    return torch.where(spherical.view(shape), from_a * a + from_b * b, linear)
