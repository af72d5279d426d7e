"""Output levels: peak normalisation for export, clip protection for round trips."""

import numpy as np


def _peak(audio: np.ndarray) -> float:
    return float(np.max(np.abs(audio))) if audio.size else 0.0


def normalise_peak(audio: np.ndarray, peak_dbfs: float = -1.0) -> np.ndarray:
    """Scale so the loudest sample sits at ``peak_dbfs`` (silence stays silence)."""
    peak = _peak(audio)
    return audio if peak == 0.0 else (audio * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32)


def limit_peak(audio: np.ndarray, ceiling: float = 0.999) -> np.ndarray:
    """Scale down (never up) so that no sample clips in a 16-bit file."""
    peak = _peak(audio)
    return audio * (ceiling / peak) if peak > ceiling else audio
