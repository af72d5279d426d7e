"""``export``: a training run → ``encoder.onnx`` + ``decoder.onnx`` + ``MODEL.md``.

The two graphs follow the model contract (docs/ARCHITECTURE.md,
``model/contract.py``): dynamic batch and time axes (temporal models), and
everything the app needs in ``metadata_props``. Before anything is written,
onnxruntime's outputs are compared with torch's on real validation data; the
folder is written under a temporary name and renamed at the end, so a failed
export leaves no half model.
"""

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from musinterp_app.audio.mel import MelConfig
from musinterp_app.model import contract
from musinterp_app.training.dataset import data
from musinterp_app.training.networks.models import ModelConfig, build, parameter_count

PARITY_TOLERANCE = 1e-4


class _Encoder(nn.Module):
    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.vae.encode(mel)


class _Decoder(nn.Module):
    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z)


def load_run(run: Path) -> tuple[nn.Module, dict]:
    """The best weights of a run, in eval mode, and its ``config.json``."""
    config = json.loads((run / "config.json").read_text())
    model = build(ModelConfig(**config["model"]))
    state = torch.load(run / "best.pt", weights_only=True, map_location="cpu")
    model.load_state_dict(state["model"])
    config["best_step"] = state["step"]
    return model.eval(), config


def _name_dims(path: Path, names: dict[str, list[str]]) -> None:
    """Give output axes readable names (the exporter invents symbols)."""
    model = onnx.load(str(path))
    for output in model.graph.output:
        for dim, name in zip(output.type.tensor_type.shape.dim, names[output.name], strict=True):
            if name:
                dim.dim_param = name
    onnx.save(model, str(path))


def _add_metadata(path: Path, metadata: dict[str, str]) -> None:
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def _export_graphs(model: nn.Module, folder: Path, example: torch.Tensor) -> None:
    temporal = model.temporal
    batch = torch.export.Dim("batch", min=1, max=1024)
    if temporal:
        units = torch.export.Dim("latent_frames", min=1, max=1_000_000)
        mel_shape = {0: batch, 2: model.config.time_reduction * units}
        z_shape = {0: batch, 2: units}
    else:
        mel_shape, z_shape = {0: batch}, {0: batch}
    with torch.no_grad():
        mu, _ = model.encode(example)
    quiet = {"dynamo": True, "external_data": False, "verbose": False}
    torch.onnx.export(
        _Encoder(model).eval(),
        (example,),
        str(folder / "encoder.onnx"),
        input_names=["mel"],
        output_names=["mu", "logvar"],
        dynamic_shapes={"mel": mel_shape},
        **quiet,
    )
    torch.onnx.export(
        _Decoder(model).eval(),
        (mu,),
        str(folder / "decoder.onnx"),
        input_names=["z"],
        output_names=["mel"],
        dynamic_shapes={"z": z_shape},
        **quiet,
    )
    latent = ["batch", "", "latent_frames"] if temporal else ["batch", ""]
    _name_dims(folder / "encoder.onnx", {"mu": latent, "logvar": latent})
    frames = ["batch", "", "frames"] if temporal else ["batch", "", ""]
    _name_dims(folder / "decoder.onnx", {"mel": frames})


def check_parity(model: nn.Module, folder: Path, mels: torch.Tensor) -> float:
    """Largest |onnxruntime − torch| over encoder and decoder outputs on ``mels``."""
    encoder = ort.InferenceSession(str(folder / "encoder.onnx"), providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(str(folder / "decoder.onnx"), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        mu, logvar = model.encode(mels)
        decoded = model.decode(mu)
    onnx_mu, onnx_logvar = encoder.run(None, {"mel": mels.numpy()})
    (onnx_decoded,) = decoder.run(None, {"z": mu.numpy()})
    return float(
        max(
            np.abs(onnx_mu - mu.numpy()).max(),
            np.abs(onnx_logvar - logvar.numpy()).max(),
            np.abs(onnx_decoded - decoded.numpy()).max(),
        )
    )


def _training_section(config: dict, last_log: dict) -> str:
    """What the card says of how the weights were made: stage 1 (``train``) or stage 2
    (``adversarial``, from a finished model)."""
    if "adversarial" in config:
        options, start = config["adversarial"], config["start"]
        origin = (
            f"model `{start['model_id']}` ({start['model_folder']})"
            if "model_id" in start
            else f"step {start['step']} of the run {start['run']}"
        )
        critic = (
            f"; on top, {options['interpolation_weight']} × as much (weighed the same way, "
            "apart) for the interpolation critic "
            "(decodes of latents blended between two crops, lerp or slerp, α in [0.2, 0.8], "
            "judged as fakes)"
            if options["interpolation_weight"]
            else ""
        )
        return f"""Stage 2 (adversarial) from {origin}, encoder frozen (bit-identical):
{options["steps"]} steps of batch {options["batch"]} random crops of
{options["crop_frames"]} frames, augmented as in stage 1. The decoder keeps stage 1's
reconstruction terms and adds a hinge loss against a multi-scale patch discriminator on
the log-mel (full resolution, 2× and 4× pooled;
{options["discriminator_channels"]} channels at full resolution, learning alone for the first
{options["discriminator_warmup_steps"]} steps) + {options["feature_weight"]} × feature
matching, weighed adaptively at {options["adversarial_weight"]} × the reconstruction's
gradient at the last layer{critic}. AdamW (β 0.5, 0.9), lr {options["lr"]} (decoder) and
{options["discriminator_lr"]} (discriminator); seed {options["seed"]}. Weights exported: step
{config["best_step"]} (most band detail with the log-mel MAE within 5 % of the start's).
Start: {json.dumps(config["start_scores"])}. Last log line: {json.dumps(last_log)}."""
    options = config["options"]
    return f"""{options["arch"]}, {options["steps"]} steps of batch {options["batch"]} random
crops of {options["crop_frames"]} frames drawn afresh every step from memory-mapped tracks,
augmented (gain ±{options["gain_db"]} dB, EQ tilt ±{options["tilt_db"]} dB, a second crop mixed in
with probability {options["mix_probability"]}). AdamW, lr {options["lr"]} after a
{options["lr_warmup_steps"]}-step warm-up, cosine to a tenth. Loss: L1 on the log-mel
(prediction clamped at the floor) + {options["coarse_weight"]} × L1 at 2×2 and 4×4 pooling
+ {options["detail_weight"]} × L1 of band-to-band and frame-to-frame differences
+ {options["convergence_weight"]} × spectral convergence of the linear mel magnitude,
+ β = {options["beta"]} KL with a {options["warmup_steps"]}-step warm-up; seed {options["seed"]}.
Weights exported: step {config["best_step"]} (lowest validation MAE). Last log line:
{json.dumps(last_log)}."""


def _model_card(
    config: dict, model: nn.Module, metadata: dict, parity: float, commands: str, data_notes: str
) -> str:
    info = config["data"]
    log = (Path(config["run"]) / "log.csv").read_text().strip().splitlines()
    last = dict(zip(log[0].split(","), log[-1].split(","), strict=True)) if len(log) > 1 else {}
    return f"""# musinterp model `{metadata["model_id"]}`

Architecture `{metadata["architecture"]}`: {
        "temporal latent, "
        + metadata["latent_channels"]
        + " channels per latent frame, time reduced "
        + metadata["time_reduction"]
        + "×"
        if model.temporal
        else "one global "
        + metadata["latent_channels"]
        + "-d latent per "
        + metadata["segment_frames"]
        + "-frame excerpt"
    };
{parameter_count(model):,} parameters; width {config["model"]["width"]}.
Features: log-mel at {metadata["sample_rate"]} Hz, n_fft {metadata["n_fft"]},
hop {metadata["hop_length"]}, {metadata["n_mels"]} mel bands, floor {metadata["floor_db"]} dB,
normalised as (dB − offset) / scale with offset {metadata["norm_offset_db"]} dB and
scale {metadata["norm_scale_db"]} dB;
each band standardised inside the graph with the training data's statistics.

## Data

Labels: {metadata["training_data"]}. {info["train_files"]} files
({info["train_minutes"]} minutes) for training, {info["validation_files"]} other files
({info["validation_segments"]} five-second segments) for validation: the split is by
source file, so no file is in both.

{data_notes}

## Training

{_training_section(config, last)}

Onnxruntime vs torch parity: max |difference| {parity:.2e} (limit {PARITY_TOLERANCE:g}).

## Reproduce

```sh
{commands or "musinterp-train train --data CACHE --out RUN && musinterp-train export RUN -o DIR"}
```
"""


def export(run: Path, output: Path, *, commands: str = "", data_notes: Path | None = None) -> Path:
    """Export ``run``'s best weights to ``output``; returns the model card's path."""
    run, output = Path(run), Path(output)
    model, config = load_run(run)
    config["run"] = str(run)
    cache = Path(config["data"]["cache"])
    rows = (data.split_by_file(data.read_index(cache))[1] * 2)[:4]
    mels = torch.from_numpy(data.read_segments(cache, rows))  # from the shards
    staging = output.with_name(output.name + f".part-{int(time.time())}")
    staging.mkdir(parents=True)
    try:
        _export_graphs(model, staging, mels[:2])  # batch 2: size-1 axes would be fixed
        parity = check_parity(model, staging, mels)
        if parity > PARITY_TOLERANCE:
            raise ValueError(
                f"onnxruntime differs from torch by {parity:.2e} (> {PARITY_TOLERANCE:g})"
            )
        digest = hashlib.sha1()
        for tensor in model.state_dict().values():
            digest.update(tensor.numpy().tobytes())
        for role in contract.ROLES:
            metadata = contract.metadata_for(
                role=role,
                model_id=digest.hexdigest()[:12],
                architecture=config["model"]["arch"],
                temporal=model.temporal,
                latent_channels=config["model"]["latent_channels"],
                time_reduction=config["model"]["time_reduction"],
                mel=MelConfig.from_dict(config["mel"]),
                parameters=parameter_count(model),
                training_labels=config["data"]["labels"],
            )
            _add_metadata(staging / f"{role}.onnx", metadata)
        shutil.copyfile(run / "log.csv", staging / "training_log.csv")  # for the curve plot
        notes = Path(data_notes).read_text() if data_notes else ""
        (staging / "MODEL.md").write_text(
            _model_card(config, model, metadata, parity, commands, notes)
        )
        previous = output.with_name(output.name + ".old")
        if output.exists():
            output.rename(previous)
        staging.rename(output)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output / "MODEL.md"
