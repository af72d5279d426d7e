"""One training code path for one process and N (PyTorch DDP, started by ``torchrun``).

``torchrun`` gives each process ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``; without them the run is one process and
nothing here talks to anyone. The backend is NCCL when the processes have
GPUs, gloo on CPU.

How the data is split: every process draws the same global batch plan (which
crops, where, how augmented, the latent noise) from generators seeded alike,
then reads and computes only its own contiguous slice of it (:meth:`Context.part`):
no crop is read by two processes, and DDP's gradient all-reduce (a mean over
processes of per-process means over equal slices) makes a step on N processes
the step of one process on the whole global batch. The random state is
therefore the same everywhere: rank 0 saves it once and a run resumes on any
number of processes.
"""

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes the run folder (checkpoints, log, model)."""
        return self.rank == 0

    def part(self, global_batch: int) -> slice:
        """This process's rows of a global batch of ``global_batch``."""
        if global_batch % self.world_size:
            raise ValueError(
                f"--batch {global_batch} (the global batch) does not split evenly over "
                f"{self.world_size} processes; use a multiple of {self.world_size}"
            )
        size = global_batch // self.world_size
        return slice(self.rank * size, (self.rank + 1) * size)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module``, its gradients averaged over the processes (DDP) when there are several."""
        if self.world_size == 1:
            return module
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=device_ids)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of ``values`` over the processes (every process must call it)."""
        if self.world_size == 1:
            return values
        values = values.detach().clone()
        dist.all_reduce(values)
        return values / self.world_size

    def share(self, value: object) -> object:
        """Rank 0's ``value``, on every process (every process must call it)."""
        if self.world_size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def start() -> Context:
    """Join the process group ``torchrun`` set up, or run alone; the device to use."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(rank, world_size, device)


def stop(context: Context) -> None:
    """Leave the process group (after every process has finished).

    The DDP wrapper holds the gloo group and sits in reference cycles, so it outlives its
    last reference until the garbage collector runs
    (``docs/measurements/scripts/ddp_wrapper_lifetime.py``); collecting first makes
    ``destroy_process_group`` the moment the group and its threads really go, not some
    later collection or the interpreter's shutdown."""
    if context.world_size > 1 and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
