"""Measurements behind the scaling plan (docs/training-at-scale.md), on this machine's CPU.

- training memory against corpus size: the peak resident memory (``VmHWM``) of a
  process that trains a few steps on a generated corpus and on one 10 times larger;
- segments per second and bytes read per step of the real training (data
  reading, augmentation, step, DDP all-reduce) as one process and as N gloo
  processes under ``torchrun`` on the same global batch.

``python -m musinterp_app.training.evaluation.scaling OUT.json`` writes them all; the tests
use the same functions on tiny models.
"""

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from musinterp_app.audio import synth
from musinterp_app.base.files import write_atomically
from musinterp_app.training.dataset import data

TRAIN = str(Path(sys.executable).parent / "musinterp-train")


def generated_music(folder: Path, files: int, seconds: float = 31.0, suffix: str = ".wav") -> Path:
    """A folder of ``files`` copies of one generated stereo 44.1-kHz song (``suffix``: its
    format, e.g. ``.mp3`` as FMA's)."""
    music = Path(folder) / "music" / "songs"
    music.mkdir(parents=True, exist_ok=True)
    left = synth.music_like(seconds, 44100, rng=np.random.default_rng(0))
    song = music.parent / f"song{suffix}"
    sf.write(song, np.stack([left, 0.5 * left], axis=1), 44100)
    for k in range(files):
        shutil.copyfile(song, music / f"song{k:05d}{suffix}")
    return music


def generated_cache(folder: Path, files: int) -> Path:
    """A cache (shards only) of ``files`` copies of one generated 31-s song, in ``folder``."""
    data.prepare([generated_music(folder, files)], Path(folder) / "cache", workers=1, exr=False)
    return Path(folder) / "cache"


def corpus_bytes(cache: Path) -> int:
    """Bytes of log-mel a cache holds (its shards are sparse files: their sizes say more)."""
    config = json.loads((Path(cache) / "mel_config.json").read_text())
    return len(data.read_index(cache)) * config["segment_frames"] * config["n_mels"] * 2


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (prepare's workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_training(processes: int, *arguments: str, gpu: bool = False) -> dict:
    """``musinterp-train train ARGUMENTS`` as one plain process, or as ``processes`` gloo
    processes under torchrun on 127.0.0.1 (a free port); returns rank 0's summary.
    On the CPU unless ``gpu`` (then NCCL between processes, one GPU each)."""
    command = [TRAIN, "train", *arguments]
    if processes > 1:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
            "--nproc-per-node", str(processes), "--master-addr", "127.0.0.1",
            "--master-port", str(_free_port()), "--no-python", *command,
        ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    if not gpu:
        environment["CUDA_VISIBLE_DEVICES"] = ""
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def peak_memory_kb(cache: Path, run: Path, *arguments: str) -> int:
    """Peak resident memory (kB, ``VmHWM``) of a process that runs ``train`` on ``cache``."""
    script = (
        "import sys\n"
        "from musinterp_app.training.cli import main\n"
        "main(['train', '--data', sys.argv[1], '--out', sys.argv[2], *sys.argv[3:]])\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(cache), str(run), *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""},
    )
    if done.returncode:
        raise RuntimeError(f"training for the memory measurement failed:\n{done.stderr[-3000:]}")
    return int(done.stdout.split()[-1])


def measure(
    folder: Path, *, steps: int = 12, batch: int = 16, processes: int = 2, repeats: int = 2
) -> dict:
    """The default hybrid model, global ``batch``, crop 160, no validation."""
    folder = Path(folder)
    cores = os.cpu_count() or 1
    small = generated_cache(folder / "small", 6)
    music = generated_music(folder / "large", 60, suffix=".mp3")
    started, cpu_before = time.monotonic(), _cpu_s()
    large = folder / "large" / "cache"
    data.prepare([music], large, workers=1, exr=False)
    prepare_s, prepare_cpu_s = time.monotonic() - started, _cpu_s() - cpu_before
    common = [
        "--batch",
        str(batch),
        "--validate-every",
        str(steps + 1),
        "--validation-segments",
        "4",
    ]
    memory = {
        name: peak_memory_kb(cache, folder / f"memory-{name}", *common, "--steps", "4")
        for name, cache in (("small", small), ("large", large))
    }
    runs = []
    for repeat in range(repeats):  # interleaved: a busy spell on a shared machine hits all
        # one process on every core, one on one core, and N processes sharing the cores
        for count, threads in ((1, cores), (1, 1), (processes, max(1, cores // processes))):
            summary = run_training(
                count, "--data", str(large),
                "--out", str(folder / f"run{count}x{threads}-{repeat}"),
                "--steps", str(steps), "--threads", str(threads), *common,
            )  # fmt: skip
            runs.append(
                {
                    "processes": count,
                    "threads_per_process": threads,
                    "step_s": summary["step_s"],
                    "segments_per_s": round(batch / summary["step_s"], 2),
                    "data_s": summary["data_s"],  # of step_s: reading, augmenting (rank 0)
                    "bytes_read_per_step_rank0": summary["bytes_read_per_step"],
                    "bytes_read_per_step_all": summary["bytes_read_per_step"] * count,
                    "load_average_after": round(os.getloadavg()[0], 2),
                }
            )
    return {
        "machine": {"cpu_cores": cores, "load_average": os.getloadavg()},
        "model": "hybrid (default size), crop 160 frames, global batch "
        f"{batch}, {steps} steps (the first included), no validation",
        "memory": {
            "peak_rss_kb": memory,
            "ratio_large_to_small": round(memory["large"] / memory["small"], 3),
            "corpus_segments": {"small": 6 * 6, "large": 60 * 6},
            "large_corpus_float16_bytes": corpus_bytes(large),
        },
        "prepare": {
            "input": "60 stereo 44.1-kHz MP3 files of 31 s (decode, resample, log-mel, shards)",
            "workers": 1,
            "wall_s": round(prepare_s, 1),
            "cpu_s": round(prepare_cpu_s, 1),
            "audio_s_per_cpu_s": round(60 * 31.0 / prepare_cpu_s, 1),
        },
        "throughput": runs,
    }


def measure_gpu(folder: Path, *, steps: int = 300, batch: int = 64) -> dict:
    """On one GPU: the whole training step (reading crops from shards, augmenting,
    the step) against the step alone on random batches (:mod:`throughput`), both at
    ``batch``: how much the data path costs a GPU."""
    from musinterp_app.training.loop import throughput

    cache = generated_cache(Path(folder), 60)
    summary = run_training(
        1, "--data", str(cache), "--out", str(Path(folder) / "run"), "--steps", str(steps),
        "--batch", str(batch), "--validate-every", str(steps + 1),
        "--validation-segments", "4", gpu=True,
    )  # fmt: skip
    alone = throughput.measure(batch=batch, steps=50, device="cuda")
    return {
        "device": alone.device,
        "batch": batch,
        "whole_step": {
            "step_s": summary["step_s"],
            "data_s": summary["data_s"],
            "segments_per_s": round(batch / summary["step_s"], 1),
            "bytes_read_per_step": summary["bytes_read_per_step"],
            "steps": steps,
        },
        "step_alone": alone.to_dict(),
    }


if __name__ == "__main__":  # python -m musinterp_app.training.evaluation.scaling [--gpu] OUT.json
    import tempfile

    out, on_gpu = Path(sys.argv[-1]), "--gpu" in sys.argv[1:-1]
    with tempfile.TemporaryDirectory() as scratch:
        result = (measure_gpu if on_gpu else measure)(Path(scratch))
    write_atomically(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
