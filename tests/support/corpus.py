"""Corpora of unusable inputs (audio files, model folders), made by the tests
themselves from real files (nothing committed)."""

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import soundfile as sf

from musinterp_app.audio import synth
from musinterp_app.base.resources import default_model_dir


def stereo_clip(rate: int, seconds: float = 2.0) -> np.ndarray:
    """``[samples, 2]``: left is music, right is the same at half level, inverted."""
    left = synth.music_like(seconds, rate, rng=np.random.default_rng(3))
    return np.stack([left, -0.5 * left], axis=1)


def make_bad_inputs(tmp_path: Path) -> dict[str, Path]:
    """Files that cannot be used, each made here for real."""
    bad = {}
    good = stereo_clip(44100)

    def path(name: str) -> Path:
        bad[name] = tmp_path / name
        return bad[name]

    path("missing.wav")
    path("folder.wav").mkdir()
    path("empty.wav").write_bytes(b"")
    path("document.wav").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 20)
    path("picture.mp3").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    path("notes.ogg").write_text("These are my notes, not music.\n" * 50)
    path("song.m4a.wav").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(500))
    sf.write(path("zero.wav"), np.zeros((0, 1), np.float32), 44100)
    not_finite = np.full(44100, 0.1, np.float32)
    not_finite[100] = np.nan
    not_finite[200] = np.inf
    sf.write(path("nan.wav"), not_finite, 44100, subtype="FLOAT")
    sf.write(path("tiny.wav"), np.zeros(1, np.float32), 44100)
    for name, kwargs in [("cut.wav", {}), ("cut.flac", {}), ("cut.mp3", {}), ("cut.ogg", {})]:
        full = tmp_path / f"full-{name}"
        sf.write(full, good, 44100, **kwargs)
        data = full.read_bytes()
        path(name).write_bytes(data[: len(data) // 2])
    wav = tmp_path / "full-cut.wav"
    damaged = bytearray(wav.read_bytes())
    damaged[8:12] = b"XXXX"  # RIFF chunk that is no longer WAVE
    path("scrambled.wav").write_bytes(bytes(damaged))
    return bad


BAD_INPUT_MESSAGES = {
    "missing.wav": "does not exist",
    "folder.wav": "is a folder",
    "empty.wav": "empty (0 bytes)",
    "document.wav": "PDF document, not an audio file",
    "picture.mp3": "PNG image, not an audio file",
    "notes.ogg": "text file, not audio",
    "song.m4a.wav": "MP4/M4A (AAC or ALAC) audio is not supported",
    "zero.wav": "no audio (zero samples)",
    "nan.wav": "invalid samples (NaN or infinity)",
    "tiny.wav": "is only 0.00 s long",
    "cut.wav": "truncated",
    "cut.flac": "damaged",
    "cut.mp3": "truncated",
    "cut.ogg": "truncated: its audio stream stops without its end mark",
    "scrambled.wav": "looks like WAV but cannot be decoded",
}


def make_usable_oddities(folder: Path) -> dict[str, Path]:
    """Unusual but usable files: they must load (resampled, downmixed, padded)."""
    odd = {}
    music = synth.music_like(3.0, 8000, rng=np.random.default_rng(5))
    sf.write(folder / "phone 8 kHz.wav", music, 8000)
    odd["8 kHz"] = folder / "phone 8 kHz.wav"
    surround = np.tile(synth.music_like(2.0, 96000, rng=np.random.default_rng(6))[:, None], 8)
    sf.write(folder / "surround 96k.flac", surround * np.linspace(0.2, 1, 8), 96000)
    odd["8 channels, 96 kHz"] = folder / "surround 96k.flac"
    sf.write(folder / "blip.ogg", synth.music_like(0.1, 44100, rng=np.random.default_rng(7)), 44100)
    odd["0.1 s"] = folder / "blip.ogg"
    sf.write(folder / "silence.wav", np.zeros(44100 * 2, np.float32), 44100)
    odd["all silent"] = folder / "silence.wav"
    return odd


BROKEN_MODEL_MESSAGES = {
    "no decoder": "has no decoder.onnx",
    "cut encoder": "is damaged or not an ONNX model",
    "text as encoder": "is damaged or not an ONNX model",
    "files from two models": "come from different models (they disagree on n_mels)",
    "metadata against graph": "encoder.onnx expects 512 mel bands, metadata says 256",
    "no metadata": "carries no musinterp metadata",
    "not a folder": "is not a model folder",
}


def make_broken_models(folder: Path) -> dict[str, Path]:
    """Model folders that must be refused, each a damaged copy of the shipped one."""
    import onnx  # training extra: rewrites the metadata of real exported graphs

    broken = {}

    def copy(name: str) -> Path:
        broken[name] = folder / name
        shutil.copytree(default_model_dir(), broken[name])
        return broken[name]

    def rewrite_metadata(path: Path, change) -> None:
        graph = onnx.load(str(path))
        change(graph.metadata_props)
        onnx.save(graph, str(path))

    def set_n_mels(props) -> None:
        for prop in props:
            if prop.key == "n_mels":
                prop.value = "256"

    (copy("no decoder") / "decoder.onnx").unlink()
    encoder = copy("cut encoder") / "encoder.onnx"
    encoder.write_bytes(encoder.read_bytes()[: encoder.stat().st_size // 2])
    (copy("text as encoder") / "encoder.onnx").write_text("not a model\n")
    rewrite_metadata(copy("files from two models") / "decoder.onnx", set_n_mels)
    against_graph, no_metadata = copy("metadata against graph"), copy("no metadata")
    for name in ("encoder.onnx", "decoder.onnx"):
        rewrite_metadata(against_graph / name, set_n_mels)
        rewrite_metadata(no_metadata / name, lambda props: props.clear())
    broken["not a folder"] = folder / "nowhere"
    return broken


NOT_A_FILE_MESSAGES = {
    "pipe.wav": "it is a named pipe (FIFO), not a file",
    "socket.wav": "it is a socket, not a file",
    "loop.wav": "it is a symbolic link that leads back to itself",
    "zero.wav": "it is a device (character special file), not a file",
    "null.mp3": "it is a device (character special file), not a file",
    "disk.flac": "it is a disk device (block special file), not a file",
    "status.ogg": "it is a system file (of a virtual file system like /proc)",
    "/proc/kmsg": "it is a system file (of a virtual file system like /proc)",
}


def make_not_files(folder: Path) -> dict[str, Path]:
    """Paths that name no file, each real: a named pipe nobody writes to, a socket, a
    link to itself, links to devices (``/dev/zero`` never ends) and into ``/proc``, and
    ``/proc/kmsg`` itself (reading it waits for the kernel). Reading any of them
    would block or never end; each must be refused at once."""
    paths = {name: folder / name for name in NOT_A_FILE_MESSAGES if "/" not in name}
    os.mkfifo(paths["pipe.wav"])
    with socket.socket(socket.AF_UNIX) as server:  # the socket file outlives the socket
        server.bind(str(paths["socket.wav"]))
    paths["loop.wav"].symlink_to(paths["loop.wav"].name)
    paths["zero.wav"].symlink_to("/dev/zero")
    paths["null.mp3"].symlink_to("/dev/null")
    disks = sorted(path for path in Path("/dev").iterdir() if path.is_block_device())
    if disks:  # a machine without disk devices cannot show this case
        paths["disk.flac"].symlink_to(disks[0])
    else:
        del paths["disk.flac"]
    paths["status.ogg"].symlink_to("/proc/self/status")
    if Path("/proc/kmsg").exists():
        paths["/proc/kmsg"] = Path("/proc/kmsg")
    return paths
