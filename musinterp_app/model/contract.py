"""The model contract: which metadata a model's two ONNX graphs carry, written and read here.

``musinterp-train export`` calls :func:`metadata_for` and the app's loader
calls :func:`parse_metadata`, so the two can never drift apart. Every value
is a string in the graphs' ``metadata_props``.

Format history:

- ``1``: the first release (mel parameters, latent layout, architecture).
- ``2``: also requires ``parameters`` (the weight count) and
  ``training_data`` (the labels it was trained on). Format-1 folders still
  load: the missing values are shown as unknown.
"""

from dataclasses import dataclass

from musinterp_app.audio.mel import MelConfig
from musinterp_app.base.json_input import shorten

FORMAT_VERSION = "2"
READABLE_FORMATS = ("1", "2")
KEYS_V1 = (
    "musinterp_format",
    "model_id",
    "role",
    "architecture",
    "temporal",
    "latent_channels",
    "time_reduction",
    "segment_frames",
    "sample_rate",
    "n_fft",
    "hop_length",
    "n_mels",
    "fmin_hz",
    "fmax_hz",
    "floor_db",
    "norm_offset_db",
    "norm_scale_db",
)
REQUIRED_KEYS = {"1": KEYS_V1, "2": (*KEYS_V1, "parameters", "training_data")}
# The longest value of a key (characters): export refuses longer ones, and so does the loader,
# so a huge value is never copied into messages, the window or every export's sidecar.
MAX_CHARS = {"training_data": 4096}
MAX_CHARS_OTHER = 64  # numbers, names, ids
ROLES = ("encoder", "decoder")


class ContractError(ValueError):
    """Metadata that breaks the contract; ``str(error)`` says what is wrong, for a person."""


@dataclass(frozen=True)
class ModelLayout:
    """What the metadata says about a model (both graphs agree on all of it)."""

    format: str
    model_id: str
    architecture: str
    temporal: bool
    latent_channels: int
    time_reduction: int  # mel frames per latent frame; 0 for a global latent
    mel: MelConfig
    parameters: int | None  # None for format-1 models, which did not record it
    training_data: str


def metadata_for(
    *,
    role: str,
    model_id: str,
    architecture: str,
    temporal: bool,
    latent_channels: int,
    time_reduction: int,
    mel: MelConfig,
    parameters: int,
    training_labels: list[str],
) -> dict[str, str]:
    """The ``metadata_props`` of one graph (``role`` is ``"encoder"`` or ``"decoder"``)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    values = {
        "musinterp_format": FORMAT_VERSION,
        "model_id": model_id,
        "role": role,
        "architecture": architecture,
        "temporal": int(temporal),
        "latent_channels": latent_channels,
        "time_reduction": time_reduction if temporal else 0,
        "parameters": parameters,
        "training_data": ", ".join(training_labels),
        **mel.to_dict(),
    }
    metadata = {key: str(value) for key, value in values.items()}
    _check_sizes(metadata, f"{role}.onnx")
    return metadata


def _check_sizes(metadata: dict[str, str], name: str) -> None:
    """Refuse a value longer than its key allows (see :data:`MAX_CHARS`)."""
    for key, value in metadata.items():
        limit = MAX_CHARS.get(key, MAX_CHARS_OTHER)
        if len(value) > limit:
            raise ContractError(
                f"{name}: the metadata {shorten(key, 40)} is {len(value)} characters long "
                f"(at most {limit}): {shorten(value)}"
            )


def _check_one(metadata: dict[str, str], name: str) -> None:
    _check_sizes({k: v for k, v in metadata.items() if k in REQUIRED_KEYS["2"]}, name)
    version = metadata.get("musinterp_format")
    if version is None:
        raise ContractError(
            f"{name} carries no musinterp metadata: it was not exported by musinterp-train "
            "(re-export the run with `musinterp-train export`)."
        )
    if version not in READABLE_FORMATS:
        raise ContractError(
            f"{name} uses model format {version}; this app reads formats "
            f"{', '.join(READABLE_FORMATS)} (update musinterp to use it)."
        )
    missing = [key for key in REQUIRED_KEYS[version] if key not in metadata]
    if missing:
        raise ContractError(
            f"{name} lacks the metadata {', '.join(missing)}: it was not exported by "
            "musinterp-train (re-export the run with `musinterp-train export`)."
        )


def parse_metadata(encoder: dict[str, str], decoder: dict[str, str]) -> ModelLayout:
    """Check both graphs' metadata against the contract and each other; the model's layout."""
    _check_one(encoder, "encoder.onnx")
    _check_one(decoder, "decoder.onnx")
    if (encoder["role"], decoder["role"]) != ROLES:
        raise ContractError("encoder.onnx and decoder.onnx are swapped or mislabelled.")
    shared = [key for key in REQUIRED_KEYS[encoder["musinterp_format"]] if key != "role"]
    disagree = [key for key in shared if encoder.get(key) != decoder.get(key)]
    if disagree:
        raise ContractError(
            "encoder.onnx and decoder.onnx come from different models "
            f"(they disagree on {', '.join(disagree)})."
        )
    try:
        mel = MelConfig.from_dict(encoder)
        latent_channels = int(encoder["latent_channels"])
        time_reduction = int(encoder["time_reduction"])
        parameters = int(encoder["parameters"]) if "parameters" in encoder else None
    except ValueError as error:
        raise ContractError(f"the metadata is inconsistent: {error}.") from None
    temporal = encoder["temporal"] == "1"
    if temporal and time_reduction < 1:
        raise ContractError(f"the metadata gives a time reduction of {time_reduction}.")
    if latent_channels < 1:
        raise ContractError(f"the metadata gives {latent_channels} latent channels.")
    return ModelLayout(
        format=encoder["musinterp_format"],
        model_id=encoder["model_id"],
        architecture=encoder["architecture"],
        temporal=temporal,
        latent_channels=latent_channels,
        time_reduction=time_reduction if temporal else 0,
        mel=mel,
        parameters=parameters,
        training_data=encoder.get("training_data", ""),
    )
