"""Unconditioned generation: fit a model's latent prior, and measure how music-like its samples are.

``fit_prior`` turns the posterior means of training clips into a
:class:`~musinterp_app.model.prior.LatentPrior` (saved as ``prior.npz`` beside
the model). ``generation_scores`` compares generated clips with real ones on
the features the label check uses (per-band mel mean and spread): the
Fréchet distance of each set to a reference sample of training clips, each
clip's distance to its nearest reference clip, and how confident a label
classifier trained on the reference clips is about them. Held-out originals
and their reconstructions are measured the same way, so a generated set can be
read against what the model does with real music.
"""

import json
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.signal
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from tqdm import tqdm

from musinterp_app.base.files import write_atomically
from musinterp_app.model.onnx_vae import OnnxVAE
from musinterp_app.model.prior import KINDS, LatentPrior
from musinterp_app.training.dataset import data
from musinterp_app.training.evaluation.classifiers import mel_features

AR_ORDER = 2
FILTER_TAPS = 64  # latent frames of the spectral kind's filters (2 s at 32 latent frames/s)
RIDGE = 1e-3
MAX_SPECTRAL_RADIUS = 0.995  # an AR walk must not diverge
TEMPERATURES = (0.5, 0.8, 1.0)


def fit_prior(latents: list[np.ndarray], model_id: str) -> LatentPrior:
    """Fit a prior on posterior means: temporal ``[C, latent_frames]`` each, or global ``[C]``."""
    if not latents:
        raise ValueError("no training latents to fit a prior on")
    if latents[0].ndim == 1:
        frames = np.stack(latents).T
        sequences: list[np.ndarray] = []
    else:
        sequences = [np.asarray(z, np.float64) for z in latents]
        frames = np.concatenate(sequences, axis=1)
    channels = frames.shape[0]
    mean = frames.mean(axis=1)
    covariance = np.cov(frames) + 1e-6 * np.eye(channels)
    scale_tril = np.linalg.cholesky(covariance)
    if not sequences:
        return LatentPrior(
            model_id=model_id,
            mean=mean,
            scale_tril=scale_tril,
            filters=np.ones((channels, 1)),
            ar_weights=np.zeros((0, channels, channels)),
            ar_bias=np.zeros(channels),
            ar_noise_tril=scale_tril,
        )
    weights, bias, noise_tril = _fit_ar(sequences, AR_ORDER)
    return LatentPrior(
        model_id=model_id,
        mean=mean,
        scale_tril=scale_tril,
        filters=_spectral_filters(sequences, mean, scale_tril),
        ar_weights=weights,
        ar_bias=bias,
        ar_noise_tril=noise_tril,
    )


def _spectral_filters(
    sequences: list[np.ndarray], mean: np.ndarray, scale_tril: np.ndarray
) -> np.ndarray:
    """Per decorrelated channel, a unit-energy zero-phase FIR ``[C, FILTER_TAPS]`` whose
    power response is the channel's average power spectrum over time."""
    taps = min(FILTER_TAPS, min(z.shape[1] for z in sequences))
    power = np.zeros((len(mean), taps // 2 + 1))
    for z in sequences:
        white = scipy.linalg.solve_triangular(scale_tril, z - mean[:, None], lower=True)
        power += scipy.signal.welch(white, nperseg=taps, axis=1, detrend=False)[1]
    response = np.fft.fftshift(np.fft.irfft(np.sqrt(power), n=taps, axis=1), axes=1)
    return response / np.linalg.norm(response, axis=1, keepdims=True)


def _fit_ar(sequences: list[np.ndarray], order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge least squares of ``z_t`` on ``z_{t−1} … z_{t−order}``: weights ``[order, C, C]``,
    bias ``[C]``, Cholesky factor of the residuals' covariance ``[C, C]``."""
    channels = sequences[0].shape[0]
    inputs, targets = [], []
    for z in sequences:
        if z.shape[1] <= order:
            continue
        lagged = [z[:, order - k - 1 : z.shape[1] - k - 1] for k in range(order)]
        inputs.append(np.concatenate([*lagged, np.ones((1, z.shape[1] - order))]).T)
        targets.append(z[:, order:].T)
    x, y = np.concatenate(inputs), np.concatenate(targets)
    gram = x.T @ x + RIDGE * len(x) * np.diag([*([1.0] * (order * channels)), 0.0])
    solution = np.linalg.solve(gram, x.T @ y)  # [order · C + 1, C]
    weights = solution[:-1].T.reshape(channels, order, channels).transpose(1, 0, 2)
    companion = np.zeros((order * channels, order * channels))
    companion[:channels] = np.concatenate(list(weights), axis=1)
    companion[channels:, :-channels] = np.eye((order - 1) * channels)
    radius = np.abs(np.linalg.eigvals(companion)).max()
    if radius > MAX_SPECTRAL_RADIUS:  # shrink towards a stable walk
        weights = weights * (MAX_SPECTRAL_RADIUS / radius)
    residuals = y - x[:, :-1] @ np.concatenate(list(weights), axis=1).T
    bias = residuals.mean(axis=0)
    noise = np.cov((residuals - bias).T) + 1e-6 * np.eye(channels)
    return weights, bias, np.linalg.cholesky(noise)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, D]``."""
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * np.real(root)))


def mel_statistics_space(reference: np.ndarray, *, seed: int = 0):
    """The space the Fréchet distances are measured in: :func:`mel_features` standardised
    and PCA-reduced (at most 16 components), fitted on ``reference`` log-mel
    ``[N, n_mels, frames]``. Returns ``(project, reference_points)``: ``project`` maps
    features ``[M, D]`` to points ``[M, K]``; ``reference_points`` ``[N, K]``."""
    features = mel_features(reference)
    scaler = StandardScaler().fit(features)
    components = min(16, len(reference) - 1, features.shape[1])
    pca = PCA(components, random_state=seed).fit(scaler.transform(features))

    def project(values: np.ndarray) -> np.ndarray:
        return pca.transform(scaler.transform(values))

    return project, project(features)


def frame_flux_db(segments: np.ndarray, config) -> np.ndarray:
    """How much each clip changes from frame to frame: mean |Δ| over time of its log-mel
    ``[N, n_mels, frames]`` in dB (values below the floor count as the floor), ``[N]``.
    Mel statistics alone do not see it: independent latent frames flicker."""
    floored = np.maximum(segments, config.floor_normalised)
    return np.abs(np.diff(floored, axis=-1)).mean(axis=(-2, -1)) * config.norm_scale_db


def generated_mel(
    model: OnnxVAE,
    prior: LatentPrior,
    count: int,
    *,
    kind: str,
    temperature: float,
    seed: int,
) -> np.ndarray:
    """``count`` generated clips of one segment each, log-mel ``[count, n_mels, frames]``."""
    frames = model.info.segment_frames
    latent_frames = model.latent_frames(frames) if model.info.temporal else 0
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            model.decode(prior.sample(latent_frames, kind=kind, temperature=temperature, rng=rng))[
                :, :frames
            ]
            for _ in range(count)
        ]
    )


def generation_scores(
    model: OnnxVAE,
    prior: LatentPrior,
    reference: np.ndarray,
    reference_labels: list[str],
    held_out: np.ndarray,
    *,
    temperatures: tuple[float, ...] = TEMPERATURES,
    seed: int = 0,
) -> dict:
    """How far each set of clips sits from the reference (training) clips.

    ``reference`` and ``held_out`` are log-mel ``[N, n_mels, frames]``; the sets
    measured are the held-out originals, their reconstructions, and
    ``len(held_out)`` generated clips per prior kind and temperature. Per set:
    ``frechet`` (Fréchet distance of standardised, PCA-reduced features to the
    reference's), ``nearest`` (median distance of a clip to its nearest
    reference clip, same space), ``confidence`` (mean top probability of an
    SVM trained on the reference labels), ``flux_db`` (median :func:`frame_flux_db`,
    which real music's sets the yardstick for) and ``silent_share`` (clips whose
    loudest frame is at the floor).
    """
    reference_features = mel_features(reference)
    project, reference_points = mel_statistics_space(reference, seed=seed)
    classifier = make_pipeline(
        StandardScaler(),
        CalibratedClassifierCV(SVC(C=10.0, class_weight="balanced"), cv=2, ensemble=False),
    )
    labels = np.asarray(reference_labels)
    names, counts = np.unique(labels, return_counts=True)
    usable = np.isin(labels, names[counts >= 2])  # the calibration's folds need two of each
    classifier.fit(reference_features[usable], labels[usable])
    floor = model.mel_config.floor_normalised

    sets = {
        "held-out originals": held_out,
        "reconstructions": np.stack(
            [model.decode(model.encode(s))[:, : s.shape[-1]] for s in held_out]
        ),
    }
    for kind in KINDS:
        for temperature in temperatures:
            sets[f"{kind}, T = {temperature:g}"] = generated_mel(
                model, prior, len(held_out), kind=kind, temperature=temperature, seed=seed
            )
    result = {}
    for name, segments in tqdm(sets.items(), desc="generation", leave=False):
        features = mel_features(segments)
        points = project(features)
        nearest = np.sqrt(((points[:, None] - reference_points[None]) ** 2).sum(-1)).min(axis=1)
        result[name] = {
            "frechet": round(frechet_distance(points, reference_points), 2),
            "nearest": round(float(np.median(nearest)), 3),
            "confidence": round(float(classifier.predict_proba(features).max(axis=1).mean()), 3),
            "flux_db": round(float(np.median(frame_flux_db(segments, model.mel_config))), 2),
            "silent_share": round(float(np.mean(segments.max(axis=(1, 2)) <= floor + 1e-3)), 3),
        }
    return result


def markdown_table(scores: dict) -> list[str]:
    """The scores of :func:`generation_scores` as Markdown lines."""
    lines = [
        "| clips | Fréchet distance to training clips | median nearest-clip distance | "
        "label classifier's confidence | frame-to-frame change (dB) | silent |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {name} | {s['frechet']} | {s['nearest']} | {s['confidence']} | {s['flux_db']} | "
        f"{s['silent_share']} |"
        for name, s in scores.items()
    ]
    return lines


def training_latents(model: OnnxVAE, segments: np.ndarray, *, progress: bool = True) -> list:
    """Posterior means of log-mel ``[N, n_mels, frames]`` clips, one array per clip."""
    chosen = tqdm(segments, desc="encode", leave=False) if progress else segments
    return [model.encode(segment) for segment in chosen]


def fit_and_measure(model_dir: Path, cache: Path, *, clips: int = 2000, seed: int = 0) -> dict:
    """Fit ``model_dir``'s prior on up to ``clips`` training clips of ``cache`` (the split of
    :func:`data.split_by_file`), save it as ``prior.npz``, then measure generated clips
    against held-out ones (:func:`generation_scores`); writes ``generation.json`` and
    ``GENERATION.md`` beside the model and returns the scores."""
    model_dir, cache = Path(model_dir), Path(cache)
    model = OnnxVAE(model_dir)
    train_rows, validation_rows = data.split_by_file(data.read_index(cache))
    rng = np.random.default_rng(seed)
    chosen = [
        train_rows[i]
        for i in sorted(rng.choice(len(train_rows), min(clips, len(train_rows)), replace=False))
    ]
    segments = data.read_segments(cache, chosen)
    prior = fit_prior(training_latents(model, segments), model.info.model_id)
    prior.save(model_dir)
    held_out_rows = data.balanced_validation(validation_rows, 96, seed=seed)
    scores = generation_scores(
        model,
        prior,
        segments,
        [row["label"] for row in chosen],
        data.read_segments(cache, held_out_rows),
        seed=seed,
    )
    files = len({row["file_id"] for row in chosen})
    labels = len({row["label"] for row in chosen})
    report = {
        "model_id": model.info.model_id,
        "cache": str(cache),
        "fitted_on_clips": len(chosen),
        "fitted_on_files": files,
        "held_out_clips": len(held_out_rows),
        "scores": scores,
    }
    write_atomically(model_dir / "generation.json", json.dumps(report, indent=2))
    lines = [
        "# Generation",
        "",
        f"Prior fitted on {len(chosen)} training clips from {files} files ({labels} labels) "
        f"of `{cache}` (`musinterp-train fit-prior`); {len(held_out_rows)} held-out clips "
        "and as many generated 5-s clips per prior and temperature, measured against the "
        "training clips on per-band mel mean and spread (lower distances: closer to the "
        "music it learned).",
        "",
        *markdown_table(scores),
        "",
    ]
    write_atomically(model_dir / "GENERATION.md", "\n".join(lines))
    return report
