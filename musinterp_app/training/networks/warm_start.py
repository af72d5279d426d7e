"""A model folder's ONNX graphs back into a torch VAE, so stage 2 can start from a shipped model.

The exporter keeps every weight under its torch name (``vae.<parameter>``), so
the state dict is read straight from the graphs' initialisers; the sizes that
``ModelConfig`` needs (width, planes) are read off the weights' shapes and the
rest from the model contract's metadata. The result decodes exactly as the
folder does (a test compares it with onnxruntime).
"""

from pathlib import Path

import onnx
import torch
from onnx import numpy_helper
from torch import nn

from musinterp_app.model import contract
from musinterp_app.training.networks.models import ModelConfig, build

PREFIX = "vae."
# Where each architecture's sizes are read: option → (weight, axis of its shape).
SIZES = {
    "hybrid": {"width": ("encoder_1d.0.weight", 0), "planes": ("encoder_2d.0.weight", 0)},
    "conv1d": {"width": ("encoder.0.weight", 0)},
    "conv2d": {},
}


def read_graphs(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Every named weight of both graphs (without the ``vae.`` prefix) and the encoder's
    metadata, checked against the contract (both graphs from one model)."""
    state: dict[str, torch.Tensor] = {}
    metadata: dict[str, dict[str, str]] = {}
    for role in contract.ROLES:
        graph = onnx.load(str(Path(folder) / f"{role}.onnx"))
        metadata[role] = {p.key: p.value for p in graph.metadata_props}
        for initializer in graph.graph.initializer:
            if initializer.name.startswith(PREFIX):
                array = numpy_helper.to_array(initializer).copy()
                state[initializer.name.removeprefix(PREFIX)] = torch.from_numpy(array)
    try:
        contract.parse_metadata(metadata["encoder"], metadata["decoder"])
    except contract.ContractError as error:
        raise ValueError(f"{folder}: {error}") from None
    return state, metadata["encoder"]


def model_from_folder(folder: Path) -> tuple[nn.Module, ModelConfig, dict[str, str]]:
    """The torch VAE whose export is ``folder``, its config and the folder's metadata.

    Raises ``ValueError`` naming the folder when its metadata breaks the contract or
    its graphs lack a weight the architecture needs (exported by other code)."""
    state, metadata = read_graphs(folder)
    arch = metadata.get("architecture", "")
    if arch not in SIZES:
        raise ValueError(f"{folder}: architecture {arch!r} cannot be read back into torch")
    sizes = {}
    for name in ("norm.mean", "norm.std"):  # the band statistics, before anything reads them
        if name not in state:
            raise ValueError(f"{folder}: the graphs hold no {name!r}; export it again")
    for option, (name, axis) in SIZES[arch].items():
        if name not in state:
            raise ValueError(f"{folder}: the graphs hold no {name!r}; export it again")
        sizes[option] = int(state[name].shape[axis])
    config = ModelConfig(
        arch=arch,
        n_mels=int(metadata["n_mels"]),
        latent_channels=int(metadata["latent_channels"]),
        time_reduction=int(metadata["time_reduction"]),
        segment_frames=int(metadata["segment_frames"]),
        band_mean=state["norm.mean"].flatten().tolist(),
        band_std=state["norm.std"].flatten().tolist(),
        **sizes,
    )
    model = build(config)
    missing = set(model.state_dict()) - set(state)
    if missing:
        raise ValueError(f"{folder}: the graphs lack {sorted(missing)[0]!r}; export it again")
    model.load_state_dict({name: state[name] for name in model.state_dict()})
    return model.eval(), config, metadata
