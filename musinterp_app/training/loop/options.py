"""What both training stages are given alike: their batches of crops and how they are
augmented, the reconstruction terms' weights, validation, the seed and the threads.
Stage 1 (:class:`~.train.TrainOptions`) and stage 2
(:class:`~.adversarial.AdversarialOptions`) add their own and set their defaults."""

from dataclasses import dataclass

from musinterp_app.training.networks import losses


@dataclass
class StageOptions:
    batch: int = 16
    crop_frames: int = 160
    coarse_weight: float = 0.5
    detail_weight: float = 1.0
    convergence_weight: float = 0.1
    gain_db: float = 6.0  # augmentation: random gain within ±gain_db
    tilt_db: float = 6.0  # augmentation: EQ tilt, lowest to highest band, within ±tilt_db
    mix_probability: float = 0.25  # augmentation: a second crop mixed in (power domain)
    validate_every: int = 400
    validation_segments: int = 96
    seed: int = 0
    threads: int = 0  # 0: all cores

    def loss_weights(self) -> losses.LossWeights:
        """The reconstruction terms' weights."""
        return losses.LossWeights(
            coarse=self.coarse_weight,
            detail=self.detail_weight,
            convergence=self.convergence_weight,
        )
