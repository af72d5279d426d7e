"""Does a DDP wrapper (and the gloo process group its reducer holds) outlive its last
reference without the garbage collector? Run under torchrun on the CPU:

    OMP_NUM_THREADS=1 .venv/bin/python -m torch.distributed.run --nnodes 1 \
        --nproc-per-node 2 docs/measurements/scripts/ddp_wrapper_lifetime.py

On torch 2.13 (2026-12-07) every rank prints ``alive after return: True`` and
``alive after gc.collect(): False``: without a collection, ``destroy_process_group``
would not be the end of the group. Hence ``training.loop.distributed.stop``
collects first.
"""

import gc
import weakref

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def train_once(model: torch.nn.Module) -> weakref.ref:
    """One DDP step; only a weak reference to the wrapper leaves."""
    wrapped = DistributedDataParallel(model)
    wrapped(torch.randn(2, 4)).sum().backward()
    return weakref.ref(wrapped)


if __name__ == "__main__":
    gc.disable()  # no collection by chance between the two looks
    dist.init_process_group("gloo")
    wrapper = train_once(torch.nn.Linear(4, 4))
    print(dist.get_rank(), "alive after return:", wrapper() is not None)
    gc.collect()
    print(dist.get_rank(), "alive after gc.collect():", wrapper() is not None)
    dist.barrier()
    dist.destroy_process_group()
