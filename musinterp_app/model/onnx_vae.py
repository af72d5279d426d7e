"""Loading a model folder and running its encoder and decoder with onnxruntime.

A model folder holds ``encoder.onnx``, ``decoder.onnx`` and ``MODEL.md``.
Both graphs carry the mel parameters and the latent layout in their
``metadata_props`` (written by ``musinterp-train export``); a folder whose
files are missing, damaged, or disagree is refused with a
:class:`ModelError` that says what is wrong, before anything uses it.
"""

import hashlib
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import onnxruntime as ort

from musinterp_app.audio.mel import MelConfig
from musinterp_app.base import files
from musinterp_app.model import contract


class ModelError(Exception):
    """A model folder cannot be used; ``str(error)`` is the message for the user."""


@dataclass(frozen=True)
class ModelInfo(contract.ModelLayout):
    """What a model is: its metadata (see :class:`contract.ModelLayout`), folder and card."""

    folder: Path
    card: str

    @property
    def segment_frames(self) -> int:
        return self.mel.segment_frames

    @property
    def parameters_text(self) -> str:
        """E.g. ``"3,692,185 parameters"`` (format-1 models did not record the count)."""
        if self.parameters is None:
            return "unknown parameter count"
        return f"{self.parameters:,} parameters"


def _session(path: Path, threads: int) -> tuple[ort.InferenceSession, str]:
    """An onnxruntime session of one graph, read through :mod:`musinterp_app.base.files`
    (a pipe or device named ``encoder.onnx`` is refused, never waited on), and the
    sha256 of the bytes it was made from."""
    try:
        with files.open_regular(path) as handle:
            graph = handle.read()
    except FileNotFoundError:
        raise ModelError(f"The model folder {path.parent} has no {path.name}.") from None
    except OSError as error:
        raise ModelError(
            f"{path.name} in {path.parent} cannot be read: {files.reason(error)}."
        ) from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # No busy-waiting after a run: on a 2-core machine onnxruntime's spinning threads took
    # the cores from the Griffin-Lim threads that follow each decode (a 5-s render took
    # 0.62 s with spinning off against 0.85 s with it on, on a loaded machine, interleaved).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        first_line = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise ModelError(
            f"{path.name} in {path.parent} is damaged or not an ONNX model ({first_line})."
        ) from None
    return session, hashlib.sha256(graph).hexdigest()


def _card(folder: Path) -> str:
    """The model card ``MODEL.md`` ('' when it is missing or unreadable: it is only shown)."""
    try:
        return files.read_text(folder / "MODEL.md")
    except (OSError, ValueError):
        return ""


class OnnxVAE:
    """The encoder and decoder of a model folder, ready to run.

    Temporal models: ``encode`` takes log-mel ``[n_mels, frames]`` of any
    length and returns ``[channels, ceil(frames / r)]``; ``decode`` returns
    ``[n_mels, latent_frames · r]``. Global models work on one excerpt of
    ``segment_frames`` (shorter input is padded with silence, longer is cut)
    and their latent is ``[channels]``.
    """

    def __init__(self, folder: str | os.PathLike, *, threads: int = 0) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise ModelError(f"{folder} is not a model folder (it does not exist or is a file).")
        self.encoder, encoder_sha256 = _session(folder / "encoder.onnx", threads)
        self.decoder, decoder_sha256 = _session(folder / "decoder.onnx", threads)
        # What the sessions were made from (an export's sidecar names them; the files
        # on disk may change while the model is in use).
        self.file_sha256 = {"encoder.onnx": encoder_sha256, "decoder.onnx": decoder_sha256}
        try:
            layout = contract.parse_metadata(
                dict(self.encoder.get_modelmeta().custom_metadata_map),
                dict(self.decoder.get_modelmeta().custom_metadata_map),
            )
        except contract.ContractError as error:
            raise ModelError(f"In {folder}, {error}") from None
        self.info = ModelInfo(
            folder=folder,
            card=_card(folder),
            **{field.name: getattr(layout, field.name) for field in fields(layout)},
        )
        self._check_graphs()

    def twin(self, *, threads: int) -> "OnnxVAE":
        """The same model in new sessions running on ``threads`` threads (live playback
        decodes on one, beside the window's decodes); ``ModelError`` if its files changed
        since this one was loaded."""
        twin = OnnxVAE(self.info.folder, threads=threads)
        if twin.file_sha256 != self.file_sha256:
            raise ModelError(
                f"The model files in {self.info.folder} changed since they were loaded."
            )
        return twin

    def _check_graphs(self) -> None:
        inputs = {tensor.name: tensor.shape for tensor in self.encoder.get_inputs()}
        outputs = {tensor.name for tensor in self.encoder.get_outputs()}
        z_inputs = {tensor.name: tensor.shape for tensor in self.decoder.get_inputs()}
        mel_shape = inputs.get("mel")
        z_shape = z_inputs.get("z")
        problems = []
        if mel_shape is None or outputs != {"mu", "logvar"}:
            problems.append("encoder.onnx must map 'mel' to 'mu' and 'logvar'")
        elif mel_shape[1] != self.info.mel.n_mels:
            problems.append(
                f"encoder.onnx expects {mel_shape[1]} mel bands, metadata says "
                f"{self.info.mel.n_mels}"
            )
        if z_shape is None:
            problems.append("decoder.onnx must take 'z'")
        elif z_shape[1] != self.info.latent_channels:
            problems.append(
                f"decoder.onnx expects {z_shape[1]} latent channels, metadata says "
                f"{self.info.latent_channels}"
            )
        if problems:
            raise ModelError(
                f"The model in {self.info.folder} is inconsistent: {'; '.join(problems)}."
            )

    @property
    def mel_config(self) -> MelConfig:
        return self.info.mel

    def latent_frames(self, frames: int) -> int:
        """Latent frames for ``frames`` mel frames (temporal models)."""
        return -(-frames // self.info.time_reduction)

    def _fit_input(self, mel: np.ndarray) -> np.ndarray:
        """Pad (with silence) or cut ``[n_mels, frames]`` to what the encoder takes."""
        mel = np.asarray(mel, dtype=np.float32)
        if mel.ndim != 2 or mel.shape[0] != self.info.mel.n_mels:
            raise ValueError(f"need log-mel [{self.info.mel.n_mels}, frames], got {mel.shape}")
        if self.info.temporal:
            target = self.latent_frames(mel.shape[1]) * self.info.time_reduction
        else:
            target = self.info.segment_frames
            mel = mel[:, :target]
        if mel.shape[1] < target:
            pad = np.full((mel.shape[0], target - mel.shape[1]), self.info.mel.floor_normalised)
            mel = np.concatenate([mel, pad.astype(np.float32)], axis=1)
        return np.ascontiguousarray(mel)

    def encode(self, mel: np.ndarray) -> np.ndarray:
        """Posterior mean μ of a normalised log-mel ``[n_mels, frames]`` (see class doc)."""
        mu, _ = self.encoder.run(None, {"mel": self._fit_input(mel)[None]})
        return mu[0]

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """Normalised log-mel ``[n_mels, frames]`` of a latent (see class doc)."""
        latent = np.asarray(latent, dtype=np.float32)
        expected_ndim = 2 if self.info.temporal else 1
        if latent.ndim != expected_ndim or latent.shape[0] != self.info.latent_channels:
            raise ValueError(f"latent of shape {latent.shape} does not fit this model")
        (mel,) = self.decoder.run(None, {"z": np.ascontiguousarray(latent)[None]})
        return mel[0]
