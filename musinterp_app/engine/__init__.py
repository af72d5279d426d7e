"""The one use case: tracks, settings, a blend. No Qt here.

The GUI and the CLI are thin faces on this package, so everything the window
does can be scripted and tested without a screen. Its parts:

- :mod:`.tracks`: loading a file's excerpt, its overview, moving the excerpt,
  fitting a track to another's tempo and key;
- :mod:`.settings`: what a blend asks for (two tracks and α, or the pad);
- :mod:`.blend`: one request made concrete once: sources, frames, shares, latent, and
  from them the log-mel, the sources' phase and the stereo image;
- :mod:`.core`: :class:`Engine`, the tracks with one model: blends, renders,
  generation, even steps, tempo and key fits, exports;
- :mod:`.caches`: the last blend decoded, decoded blocks of a render;
- :mod:`.sync`: tempo and key estimates kept by excerpt;
- :mod:`.export`: writing audio files and the options a sidecar records.

Shapes: log-mel ``[n_mels, frames]`` (normalised), latents
``[channels, latent_frames]``, audio float32 ``[samples]`` at the model rate.
"""

from musinterp_app.engine.blend import DECODE_MARGIN_LATENT, Blend
from musinterp_app.engine.caches import DECODE_BLOCK_FRAMES
from musinterp_app.engine.core import (
    EVEN_STEP_CHECKS,
    EVEN_STEP_FRAMES,
    EVEN_STEP_POINTS,
    FIRST_CHUNK_ITERATIONS,
    GENERATE_ITERATIONS,
    GENERATE_TEMPERATURE,
    RENDER_SEED,
    RENDER_STRIDE,
    RENDERER_VERSION,
    Engine,
)
from musinterp_app.engine.export import (
    DEFAULT_FADE_MS,
    EXPORT_LEVELS,
    EXPORT_PEAK_DBFS,
    MODEL_FILES,
    RENDER_ITERATIONS,
    ExportOptions,
    check_export_path,
    export_audio,
)
from musinterp_app.engine.settings import (
    CORNER_SLOTS,
    PAIR_SLOTS,
    SLOTS,
    BlendSettings,
    PadSettings,
    Settings,
)
from musinterp_app.engine.sync import ESTIMATES_KEPT
from musinterp_app.engine.tracks import (
    DEFAULT_EXCERPT_S,
    MIN_EXCERPT_S,
    MIN_TRACK_S,
    OVERVIEW_COLUMNS,
    Content,
    Track,
    align_track,
    bounded_excerpt,
    latest_start_s,
    load_track,
    overview_config,
    with_excerpt,
)

__all__ = [
    "CORNER_SLOTS",
    "DECODE_BLOCK_FRAMES",
    "DECODE_MARGIN_LATENT",
    "DEFAULT_EXCERPT_S",
    "DEFAULT_FADE_MS",
    "ESTIMATES_KEPT",
    "EVEN_STEP_CHECKS",
    "EVEN_STEP_FRAMES",
    "EVEN_STEP_POINTS",
    "EXPORT_LEVELS",
    "EXPORT_PEAK_DBFS",
    "FIRST_CHUNK_ITERATIONS",
    "GENERATE_ITERATIONS",
    "GENERATE_TEMPERATURE",
    "MIN_EXCERPT_S",
    "MIN_TRACK_S",
    "MODEL_FILES",
    "OVERVIEW_COLUMNS",
    "PAIR_SLOTS",
    "RENDERER_VERSION",
    "RENDER_ITERATIONS",
    "RENDER_SEED",
    "RENDER_STRIDE",
    "SLOTS",
    "Blend",
    "BlendSettings",
    "Content",
    "Engine",
    "ExportOptions",
    "PadSettings",
    "Settings",
    "Track",
    "align_track",
    "bounded_excerpt",
    "check_export_path",
    "export_audio",
    "latest_start_s",
    "load_track",
    "overview_config",
    "with_excerpt",
]
