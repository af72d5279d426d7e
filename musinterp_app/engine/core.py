"""The one use case: two tracks, one α, a blend. No Qt here.

The GUI and the CLI are thin faces on these functions and this class, so
everything the window does can be scripted and tested without a screen.
Heavy steps (:func:`load_track`, :meth:`Engine.render_stream`) take a cancel
token and a progress callback and are meant to run on worker threads; the
light step (:meth:`Engine.blend_mel`, decode only) is fast enough to follow a
slider.

Shapes: log-mel ``[n_mels, frames]`` (normalised), latents
``[channels, latent_frames]``, audio float32 ``[samples]`` at the model rate."""

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import soxr

from musinterp_app import __version__, sidecar
from musinterp_app.audio import analysis, levels, mel, stretch
from musinterp_app.audio.cancel import CancelToken, Progress
from musinterp_app.base import files, limits
from musinterp_app.engine.blend import Blend, above_model_band
from musinterp_app.engine.caches import DECODE_BLOCK_FRAMES, _DecodedBlocks, _LastBlend
from musinterp_app.engine.export import (
    MODEL_FILES,
    RENDER_ITERATIONS,
    ExportOptions,
    _read_previous,
    check_export_path,
    export_audio,
)
from musinterp_app.engine.settings import SLOTS, BlendSettings, PadSettings, Settings
from musinterp_app.engine.sync import _ESTIMATES
from musinterp_app.engine.tracks import (
    Track,
    align_track,
    excerpt_audio,
    file_stat,
    with_excerpt,
)
from musinterp_app.model import prior
from musinterp_app.model.onnx_vae import OnnxVAE

# The first chunk (0.25 s) is small, so sound starts at once even with all the iterations:
# its samples stay as they are, and with 16 iterations the 5-s α = 0.5 blend's SC was
# -13.87 dB against -14.06 with 32 (first chunk 13.6 against 19.3 ms).
FIRST_CHUNK_ITERATIONS = 32
EVEN_STEP_POINTS = 9  # α values measured to even out the slider's steps
EVEN_STEP_CHECKS = 21  # slider positions at which the evenness is measured
EVEN_STEP_FRAMES = 1280  # frames (10 s) of the blend measured for even steps
# Raised whenever the samples a render makes change (chunking, iterations, starting
# phase): a sidecar made by another renderer is made again close to, not exactly as, it was.
RENDERER_VERSION = 3  # 3: the phase gradient starts the bins the sources do not explain
RENDER_SEED = 0  # Griffin-Lim's random start (griffinlim_stream's default rng) for no-source frames
# Phase retrieval on every 4th frame (hop 1024 of n_fft 4096): the blend's SC at hop 256
# after 24 iterations is -13.8 dB against -13.9 on every frame, at a quarter of the cost.
RENDER_STRIDE = 4
GENERATE_TEMPERATURE = 0.8  # of the prior's spread: a little tamer than the training latents
GENERATE_ITERATIONS = 32  # from the phase gradient (no source to start from)


class Engine:
    """Tracks A and B with one model; blends and renders them.

    ``set_track`` changes state and is called by whoever owns the engine (the UI
    thread); ``with_model`` builds a new engine and ``blend_mel`` and
    ``render_stream`` only read this one, so they may run on worker threads.
    """

    def __init__(self, model: OnnxVAE) -> None:
        self.model = model
        self.tracks: dict[str, Track | None] = dict.fromkeys(SLOTS)  # C, D: the pad's
        # The last even-steps map: (track A, track B, options it was measured for, α steps),
        # in a list that engines sharing these tracks share.
        self._even_steps: list[tuple] = [(None, None, (), ())]
        self._even_steps_lock = threading.Lock()  # the decode and render workers both ask
        self._last_blend = _LastBlend()  # the display decodes a blend, its render reuses it

    @property
    def config(self) -> mel.MelConfig:
        return self.model.mel_config

    def sharing_tracks(self, model: OnnxVAE) -> "Engine":
        """This engine (the same tracks, even steps and last decode, not copies) decoding
        with ``model``: the same weights in another session (see ``OnnxVAE.twin``)."""
        shared = Engine(model)
        shared.tracks = self.tracks
        shared._even_steps, shared._even_steps_lock = self._even_steps, self._even_steps_lock
        shared._last_blend = self._last_blend
        return shared

    @property
    def ready(self) -> bool:
        return all(self.tracks[slot] for slot in BlendSettings.slots)

    def set_track(self, slot: str, track: Track) -> None:
        if slot not in self.tracks:
            raise ValueError(f"slot must be one of {', '.join(SLOTS)}, not {slot!r}")
        self.tracks[slot] = track

    def with_model(self, model: OnnxVAE, *, cancel: CancelToken | None = None) -> "Engine":
        """A new engine on ``model`` holding the same tracks, re-encoded (excerpts kept).

        The one way to switch models. This engine is left as it is, so the new one
        can be built on a worker thread while renders of this one go on; the owner
        swaps them when it is done.
        """
        switched = Engine(model)
        mel.prepare(model.mel_config)  # on this worker, not at the first render
        for slot, track in list(self.tracks.items()):
            if track is not None:
                excerpt = {"start_s": track.start_s, "excerpt_s": track.excerpt_s}
                switched.set_track(slot, with_excerpt(track, model, cancel=cancel, **excerpt))
        return switched

    @property
    def blend_frames(self) -> int:
        """Frames of the blend: the shorter of the two excerpts."""
        return self._pair()[2]

    def _pair(self) -> tuple[Track, Track, int]:
        a, b = self.tracks["A"], self.tracks["B"]
        if a is None or b is None:
            raise ValueError("load both tracks first")
        return a, b, min(a.frames, b.frames)

    def blend(self, settings: Settings) -> Blend:
        """The blend ``settings`` ask for, worked out once (see :class:`Blend`)."""
        return Blend.of(self.model, settings, [self.tracks[slot] for slot in settings.slots])

    def frames_of(self, settings: Settings) -> int:
        """Frames of a blend (or pad blend): the shortest of its sources' excerpts, or a
        performance's length."""
        tracks = [self.tracks[slot] for slot in settings.slots]
        if not all(tracks) or settings.curve:
            return self.blend(settings).frames  # says what is missing; a performance's length
        return min(t.frames for t in tracks)

    def blend_latent(self, settings: Settings) -> np.ndarray:
        return self.blend(settings).latent

    def blend_mel(self, settings: Settings, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The blended log-mel of frames ``[start, stop)``, ``[n_mels, stop − start]`` (see
        :meth:`Blend.mel`). Decode only: fast. The whole blend (no ``start``, ``stop``)
        comes back read-only and is kept: the render that follows reuses it."""
        blend = self.blend(settings)
        if start == 0 and stop is None:
            return self._last_blend.get(list(blend.tracks), settings, blend.mel)
        return blend.mel(start, stop)

    def exact_source(self, settings: Settings) -> Track | None:
        """The track the blend *is* (see :attr:`Blend.exact_source`), or None."""
        return self.blend(settings).exact_source

    def source_phase(
        self, settings: Settings, *, stride: int = 1
    ) -> Callable[[int, int], np.ndarray]:
        """The phase that starts the render (see :meth:`Blend.source_phase`)."""
        return self.blend(settings).source_phase(stride=stride)

    def render_stream(self, settings: Settings, **options) -> Iterator[np.ndarray]:
        """Audio of the blend, chunk by chunk in time order (see :meth:`_stream`;
        ``options``: ``n_iter``, ``first_chunk_iterations``, ``cancel``, ``progress``)."""
        return self._stream(self.blend(settings), **options)

    def _stream(
        self,
        blend: Blend,
        *,
        n_iter: int = RENDER_ITERATIONS,
        first_chunk_iterations: int = FIRST_CHUNK_ITERATIONS,
        cancel: CancelToken | None = None,
        progress: Progress | None = None,
    ) -> Iterator[np.ndarray]:
        """Audio of ``blend``, chunk by chunk in time order, from its log-mel as
        :meth:`_log_mel_frames` gives it (the window's decode when it drew this blend).

        Phase retrieval starts from the phase of the share-weighted sum of the
        sources' STFTs where that sum's magnitude matches the blend's (the sources
        are real audio: most of the answer is already known) and from the phase
        integrated from the blend's magnitude elsewhere, and runs on every
        ``RENDER_STRIDE``-th frame; the first chunk is short (0.25 s), so sound
        starts at once. A blend that is one of the sources plays its samples. A peak
        limiter keeps blends from clipping, so what plays is what exports.
        """
        source = blend.exact_source
        if source is not None:
            return _sample_stream(source.samples, blend.frames * self.config.hop_length, progress)
        chunks = mel.audio_stream(
            self._log_mel_frames(blend),
            blend.frames,
            self.config,
            stride=RENDER_STRIDE,
            n_iter=n_iter,
            first_chunk_iterations=min(first_chunk_iterations, n_iter),
            phase_frames=blend.source_phase(stride=RENDER_STRIDE),
            phase_gradient=True,  # in the bins the sources do not explain
            cancel=cancel,
            progress=progress,
        )
        limiter = levels.PeakLimiter(self.config.sample_rate)
        return (limiter.process(chunk) for chunk in chunks)

    def _log_mel_frames(self, blend: Blend) -> Callable[[int, int], np.ndarray]:
        """``log_mel_frames(start, stop)`` of ``blend``, for the renderer: from the whole
        blend when it is already decoded (the window shows it) or short enough to decode
        at once, else decoded block by block (:class:`_DecodedBlocks`)."""
        tracks = list(blend.tracks)
        whole = self._last_blend.peek(tracks, blend.settings)
        if whole is None and blend.frames <= DECODE_BLOCK_FRAMES:
            whole = self._last_blend.get(tracks, blend.settings, blend.mel)
        if whole is not None:
            return lambda start, stop: whole[:, start:stop]
        return _DecodedBlocks(blend.mel, blend.frames)

    def render(self, settings: Settings, **kwargs) -> np.ndarray:
        """The whole blend as audio ``[frames · hop]``."""
        return np.concatenate(list(self.render_stream(settings, **kwargs)))

    def generate(
        self,
        seconds: float,
        *,
        temperature: float = GENERATE_TEMPERATURE,
        seed: int = 0,
        kind: prior.Kind = prior.DEFAULT_KIND,
        n_iter: int = GENERATE_ITERATIONS,
        cancel: CancelToken | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Unconditioned music from the model's latent prior: audio ``[frames · hop]``.

        Latents are drawn from ``prior.npz`` in the model folder (the nominal
        N(0, I) when the model has none: see :mod:`musinterp_app.model.prior`),
        decoded, and turned into sound starting from the phase integrated from
        their magnitude (no source to take it from). The same seed gives the same
        audio. Raises ``OptionError`` for a value out of range.
        """
        limits.EXCERPT_S.check(seconds, "the length")
        limits.TEMPERATURE.check(temperature, "the temperature")
        limits.SEED.check(seed, "the seed")
        limits.check_excerpt_memory(seconds)
        config, info = self.config, self.model.info
        frames = config.seconds_to_frames(seconds)
        rng = np.random.default_rng(seed)
        source = self.latent_prior()
        if info.temporal:
            code = source.sample(
                self.model.latent_frames(frames), kind=kind, temperature=temperature, rng=rng
            )
            log_mel = self.model.decode(code)[:, :frames]
        else:  # one global latent per segment, end to end
            pieces = -(-frames // info.segment_frames)
            log_mel = np.concatenate(
                [
                    self.model.decode(source.sample(0, kind=kind, temperature=temperature, rng=rng))
                    for _ in range(pieces)
                ],
                axis=1,
            )[:, :frames]
        chunks = mel.audio_stream(
            lambda start, stop: log_mel[:, start:stop],
            frames,
            config,
            n_iter=n_iter,
            rng=rng,
            phase_gradient=True,
            cancel=cancel,
            progress=progress,
        )
        limiter = levels.PeakLimiter(config.sample_rate)
        return np.concatenate([limiter.process(chunk) for chunk in chunks])

    def latent_prior(self) -> prior.LatentPrior:
        """The prior fitted for this model (``prior.npz``), else the nominal N(0, I).
        Raises ``PriorError`` when the file is damaged or belongs to another model."""
        info = self.model.info
        fitted = prior.load(info.folder, model_id=info.model_id, channels=info.latent_channels)
        return fitted or prior.LatentPrior.nominal(info.latent_channels, info.model_id)

    @property
    def stereo(self) -> bool:
        """Whether either source is stereo (then exports can be too)."""
        return any(t is not None and t.side is not None for t in self.tracks.values())

    def with_stereo_image(self, settings: Settings, middle: np.ndarray) -> np.ndarray:
        """Left and right ``[samples, 2]`` of a rendered blend (see :meth:`Blend.stereo_image`)."""
        return self.blend(settings).stereo_image(middle)

    # ----- tempo and key --------------------------------------------------------------------
    def estimates(self, slot: str) -> tuple[analysis.Tempo, analysis.Key]:
        """A track's tempo and key before any fitting (as estimated, or as overridden);
        each excerpt is estimated once."""
        track = self.tracks[slot]
        if track is None:
            raise ValueError(f"load track {slot} first")
        return self.estimates_of(track)

    def estimates_of(self, track: Track) -> tuple[analysis.Tempo, analysis.Key]:
        """:meth:`estimates` of a given track (whichever slot holds it now)."""
        if track.alignment is not None:
            return track.alignment.tempo, track.alignment.key
        rate = self.config.sample_rate
        return _ESTIMATES.get(
            (track.content, rate),
            lambda: (
                analysis.estimate_tempo(track.samples, rate),
                analysis.estimate_key(track.samples, rate),
            ),
        )

    def synced(
        self,
        sync: tuple[str, ...],
        *,
        tempo_bpm: dict[str, float] | None = None,
        keys: dict[str, analysis.Key] | None = None,
        cancel: CancelToken | None = None,
    ) -> "Engine":
        """A new engine whose tracks B, C, D are fitted to A (``sync``: ``("tempo",)``,
        ``("key",)``, both, or ``()`` to undo): B is stretched to A's tempo (A stays
        exactly as loaded, so α = 0 is still A itself, and the slider stays a
        decode-only move) with its first downbeat on A's, and shifted by the
        smallest interval onto A's key. ``tempo_bpm`` and ``keys`` replace a slot's
        estimate (a typed tempo, ×2 or ÷2, another key); a tempo given by hand is
        matched as given, not folded by octaves. Built like
        :meth:`with_model`: this engine is left as it is."""
        tempo_bpm, keys = tempo_bpm or {}, keys or {}
        for bpm in tempo_bpm.values():
            limits.TEMPO_BPM.check(bpm, "the tempo")

        def used(slot: str) -> tuple[analysis.Tempo, analysis.Key]:
            tempo, key = self.estimates(slot)
            if slot in tempo_bpm:
                tempo = tempo.scaled(tempo_bpm[slot] / tempo.bpm)
            return tempo, keys.get(slot, key)

        switched = Engine(self.model)
        reference = used("A") if sync else None
        for slot, track in self.tracks.items():
            if track is not None and slot != "A" and reference is not None:
                given = slot in tempo_bpm  # ×2 on this track means ×2: not folded
                fit = stretch.plan(sync, *used(slot), *reference, fold=not given)
                track = align_track(track, self.model, fit, cancel=cancel)
            elif track is not None and track.alignment is not None:
                track = with_excerpt(
                    replace(track, alignment=None),
                    self.model,
                    start_s=track.start_s,
                    excerpt_s=track.excerpt_s,
                    cancel=cancel,
                )
            if track is not None:
                switched.set_track(slot, track)
        return switched

    # ----- even steps -----------------------------------------------------------------------
    def step_sizes(self, settings: BlendSettings, count: int = EVEN_STEP_CHECKS) -> np.ndarray:
        """How much the sound changes between ``count`` evenly spaced slider positions
        (0 … 1, through ``settings.steps``): the mean absolute log-mel difference of
        neighbouring blends, ``[count − 1]``, over the first ``EVEN_STEP_FRAMES``."""
        frames = min(self.blend_frames, EVEN_STEP_FRAMES)
        mels = [
            self.blend_mel(replace(settings, alpha=float(u), morph=False), 0, frames)
            for u in np.linspace(0, 1, count)
        ]
        return np.mean(np.abs(np.diff(np.stack(mels), axis=0)), axis=(1, 2))

    def even_steps(self, settings: BlendSettings, points: int = EVEN_STEP_POINTS) -> BlendSettings:
        """``settings`` with ``steps``: α at ``points`` evenly spaced slider positions,
        chosen so that equal slider steps change the sound equally (the cumulative
        log-mel change along the blend, measured at ``points`` α values, inverted).
        The last map is kept: asking again for the same tracks and options is free."""
        plain = replace(settings, steps=())
        a, b = self.tracks["A"], self.tracks["B"]
        options = (plain.mode, plain.keep_detail, plain.steady_level, points)
        with self._even_steps_lock:  # a second worker waits for the first's map
            known_a, known_b, known_options, steps = self._even_steps[0]
            if known_a is not a or known_b is not b or known_options != options:
                cumulative = np.concatenate([[0.0], np.cumsum(self.step_sizes(plain, points))])
                steps = ()
                if cumulative[-1] > 0:  # else the two tracks sound the same: nothing to even
                    knots = np.linspace(0, 1, points)
                    alphas = np.interp(knots, cumulative / cumulative[-1], knots)
                    alphas[0], alphas[-1] = 0.0, 1.0
                    steps = tuple(float(x) for x in alphas)
                self._even_steps[0] = (a, b, options, steps)
        return replace(settings, steps=steps)

    # ----- export with its sidecar ----------------------------------------------------------
    def export(
        self,
        path: str | Path,
        settings: Settings,
        options: "ExportOptions",
        *,
        cancel: CancelToken | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """Render, write ``path`` (see :func:`export_audio`) and beside it
        ``NAME.musinterp.json`` (see :mod:`musinterp_app.sidecar`), from which
        ``musinterp render`` makes the same file again.

        The audio is written under a temporary name, then the sidecar, then the
        audio takes its name: if either cannot be written, neither is, and if the
        last step fails the sidecar goes back to what it was. A failed export
        leaves the folder as it found it.
        """
        blend = self.blend(settings)
        path = self._check_output(path, blend)
        chunks = self._stream(blend, n_iter=options.n_iter, cancel=cancel, progress=progress)
        audio = np.concatenate(list(chunks))
        if self.stereo and not options.mono:
            audio = blend.stereo_image(audio)
        rate = options.output_rate or blend.source_rate
        carried = options.high_band and rate > self.config.sample_rate and _unchanged(blend)
        audio = self._at_rate(blend, audio, rate, carried, cancel)
        options = replace(options, output_rate=rate, high_band=carried)
        record = self._export_record(blend, options, channels=audio.ndim)
        record_path = sidecar.path_for(path)
        previous = _read_previous(record_path)  # put back if the audio cannot take its place
        written = []

        def write_record() -> None:  # once the audio is written, before it takes its name
            sidecar.write(record_path, {**record, "audio_file": path.name})
            written.append(record_path)

        try:
            return export_audio(
                path,
                audio,
                rate,
                level=options.level,
                sample_format=options.sample_format,
                fade_ms=options.fade_ms,
                before_replace=write_record,
            )
        except BaseException:
            if written:  # the audio failed at the last step: its sidecar goes back too
                with contextlib.suppress(OSError):  # the audio's error is the one to report
                    if previous is None:
                        record_path.unlink(missing_ok=True)
                    else:  # with the permissions it had (write_atomically keeps them)
                        files.write_atomically(record_path, previous)
            raise

    def _at_rate(
        self,
        blend: Blend,
        audio: np.ndarray,
        rate: int,
        high_band: bool,
        cancel: CancelToken | None,
    ) -> np.ndarray:
        """A render ``[samples]`` or ``[samples, 2]`` at the model's rate resampled to ``rate``
        (soxr, very high quality); above the model's band, with ``high_band``, the sources'
        own content mixed by their shares (what the model cannot make)."""
        model_rate = self.config.sample_rate
        if rate == model_rate:
            return audio
        audio = soxr.resample(audio, model_rate, rate, quality="VHQ").astype(np.float32)
        if not high_band:
            return audio
        parts = [
            above_model_band(excerpt_audio(t, rate, cancel=cancel), rate, model_rate)
            for t in blend.tracks
        ]
        high = blend.high_band(parts, rate)  # [channels, samples]; stereo if a source is
        high = high.mean(axis=0) if audio.ndim == 1 else high.T
        length = min(len(audio), len(high))
        audio[:length] += high[:length]
        return audio

    def _check_output(self, path: str | Path, blend: Blend) -> Path:
        """``path`` if an export of ``blend`` may be written there (see
        :func:`check_export_path`): never one of its sources or the model's files."""
        model_files = tuple(self.model.info.folder / name for name in MODEL_FILES)
        return check_export_path(path, (*(t.path for t in blend.tracks), *model_files))

    def _export_record(self, blend: Blend, options: "ExportOptions", channels: int) -> dict:
        """What :mod:`musinterp_app.sidecar` keeps of an export (plain JSON values)."""
        folder, settings = self.model.info.folder, blend.settings
        tracks = dict(zip(settings.slots, blend.tracks, strict=True))
        kind = "pad" if isinstance(settings, PadSettings) else "blend"
        return {
            "format": sidecar.FORMAT,
            "format_version": sidecar.FORMAT_VERSION,
            "app_version": __version__,
            "model": {
                "folder": folder.name,
                "path": str(folder.resolve()),
                "model_id": self.model.info.model_id,
                **{name: self.model.file_sha256[name] for name in MODEL_FILES},
            },
            "sources": {
                slot: {
                    "path": str(track.path.resolve()),
                    "sha256": track.source_sha256,
                    "start_s": track.start_s,
                    "duration_s": track.excerpt_s,
                }
                for slot, track in tracks.items()
            },
            "blend": {"kind": kind, **asdict(settings)},
            "sync": {
                slot: track.alignment.to_dict()
                for slot, track in tracks.items()
                if track.alignment is not None
            },
            "render": {
                **asdict(options),
                "renderer": RENDERER_VERSION,
                "first_chunk_iterations": FIRST_CHUNK_ITERATIONS,
                "seed": RENDER_SEED,
                "rate": options.output_rate,
                "channels": channels,
            },
        }


def _unchanged(blend: Blend) -> bool:
    """Whether every source file is as it was when its excerpt was read (size and modification
    time): the highs an export carries are read from the files again, and a file moved or
    edited since would put other sound in an export whose sidecar names the old one (then
    the export carries none, and its sidecar says so)."""
    for track in blend.tracks:
        try:
            if file_stat(track.path) != track.source_stat:
                return False
        except OSError:
            return False
    return True


def _sample_stream(
    samples: np.ndarray, length: int, progress: Progress | None, chunk: int = 32768
) -> Iterator[np.ndarray]:
    """``samples`` cut or silence-padded to ``length``, in chunks (as a render would yield)."""
    exact = np.zeros(length, np.float32)
    exact[: min(length, len(samples))] = samples[:length]
    for first in range(0, length, chunk):
        if progress is not None:
            progress(min(length, first + chunk), length)
        yield exact[first : first + chunk]
