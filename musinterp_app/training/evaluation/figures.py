"""Writing the PNG plots of evaluate, explore and classify (matplotlib, no display)."""

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from musinterp_app.base.files import write_atomically


def save_figure(figure, path: Path) -> Path:
    """Save ``figure`` as a PNG at ``path`` atomically (never half a picture) and close it."""
    picture = io.BytesIO()
    figure.savefig(picture, dpi=90, format="png")
    plt.close(figure)
    return write_atomically(path, picture.getvalue())
