"""Judging decodes and blends as a listener would, in a feature space the model never trained in.

Every log-mel is first rendered to audio (Griffin-Lim from the phase
gradient, as the app renders sourceless audio), then described by features
taken from that audio with librosa: MFCCs, spectral contrast, chroma (means
and spreads over time) and the modulation spectrum of the onset envelope.
Neither the VAE nor its discriminator ever saw these, so a model cannot be
good at them by construction.

- :func:`two_sample_auc`: a classifier trained to tell real clips from a set
  (a classifier two-sample test); ROC AUC over held-out folds grouped by file,
  with a 95 % interval. 0.5 means indistinguishable from real music.
- :func:`blend_geometry`: where a blend lies between its two sources in that
  space: intermediateness |d_A ÷ (d_A + d_B) − ½| (0: halfway) and
  correspondence (d_A + d_B) ÷ d_AB (1: on the way from A to B; an unrelated
  third piece scores high).
"""

import librosa
import numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from musinterp_app.audio import mel

RENDER_ITERATIONS = 16
RENDER_STRIDE = 4  # phase retrieval on every 4th frame, as the app renders
MODULATION_BINS = 16  # onset-envelope modulation spectrum, 0 … ~10 Hz
FOLDS = 5


def render(normalised: np.ndarray, config: mel.MelConfig) -> np.ndarray:
    """Log-mel ``[n_mels, frames]`` → audio at the model's rate (the phase-gradient start)."""
    return mel.to_audio(
        normalised, config, n_iter=RENDER_ITERATIONS, phase_gradient=True, stride=RENDER_STRIDE
    )


def features(audio: np.ndarray, config: mel.MelConfig) -> np.ndarray:
    """One clip's feature vector ``[F]``: MFCC, spectral contrast and chroma means and
    standard deviations over time, and the onset envelope's modulation spectrum (dB)."""
    rate, hop = config.sample_rate, 512
    spectrum = np.abs(librosa.stft(audio, n_fft=2048, hop_length=hop)) ** 2
    mel_power = librosa.feature.melspectrogram(S=spectrum, sr=rate, n_mels=64)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel_power), n_mfcc=20)
    contrast = librosa.feature.spectral_contrast(S=np.sqrt(spectrum), sr=rate)
    chroma = librosa.feature.chroma_stft(S=spectrum, sr=rate)
    onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel_power), sr=rate)
    modulation = np.abs(np.fft.rfft(onset - onset.mean(), n=256))[1 : MODULATION_BINS + 1]
    parts = [mfcc, contrast, chroma]
    summary = [p.mean(axis=1) for p in parts] + [p.std(axis=1) for p in parts]
    return np.concatenate([*summary, 20 * np.log10(modulation + 1e-6)]).astype(np.float32)


def feature_table(mels: np.ndarray, config: mel.MelConfig) -> np.ndarray:
    """Features of every log-mel in ``[N, n_mels, frames]`` → ``[N, F]``."""
    return np.stack([features(render(m, config), config) for m in mels])


def two_sample_auc(
    real: np.ndarray, other: np.ndarray, groups: np.ndarray, *, seed: int = 0
) -> dict:
    """How well a classifier tells ``other`` ``[N, F]`` from ``real`` ``[N, F]`` (row k of
    each made from the same clip or pair, whose file id is ``groups[k]``).

    Logistic regression on standardised features, :data:`FOLDS` folds grouped by
    ``groups`` (for a blend, the file of its A: the clip and its blend never sit on
    both sides of a split, though a blend's B file may; the test is then a little
    lenient); the AUC of each held-out fold, their mean and a 95 % t-interval over
    the folds. 0.5: indistinguishable.
    """
    x = np.concatenate([real, other])
    y = np.r_[np.zeros(len(real)), np.ones(len(other))]
    group = np.concatenate([groups, groups])
    folds = min(FOLDS, len(set(groups)))
    aucs = []
    for train, test in GroupKFold(n_splits=folds).split(x, y, group):
        classifier = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        classifier.fit(x[train], y[train])
        aucs.append(roc_auc_score(y[test], classifier.predict_proba(x[test])[:, 1]))
    mean = float(np.mean(aucs))
    spread = float(stats.t.ppf(0.975, len(aucs) - 1) * stats.sem(aucs)) if len(aucs) > 1 else 0.0
    return {
        "auc": round(mean, 3),
        "low": round(max(0.0, mean - spread), 3),
        "high": round(min(1.0, mean + spread), 3),
        "folds": len(aucs),
        "clips": len(other),
    }


def blend_geometry(
    blends: np.ndarray, a: np.ndarray, b: np.ndarray, scale: np.ndarray
) -> dict[str, float]:
    """Medians over pairs of intermediateness and correspondence of ``blends`` ``[N, F]``
    between ``a`` and ``b`` ``[N, F]``, distances measured on features divided by
    ``scale`` ``[F]`` (the real clips' spread, so no feature dominates)."""

    def distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.linalg.norm((x - y) / scale, axis=1)

    to_a, to_b, a_to_b = distance(blends, a), distance(blends, b), distance(a, b)
    return {
        "intermediateness": round(float(np.median(np.abs(to_a / (to_a + to_b) - 0.5))), 3),
        "correspondence": round(float(np.median((to_a + to_b) / np.maximum(a_to_b, 1e-9))), 3),
    }
