"""One training run over several processes, as `torchrun` starts them: one process per GPU, on one host or many.

    torchrun --nproc-per-node 8 -m captionbot train --data DATA --output runs/coco

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE (and where the processes meet); without them this is a world of
one and nothing here talks to anybody. Each process trains on its shard of every batch
(`dataset.EpochSampler`), DistributedDataParallel averages the gradients, and rank 0 alone writes the run's
files; the other ranks wait at a barrier where they would read them.
"""

import contextlib
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from captionbot.blip.devices import pick_device
from captionbot.core.errors import UsageError


@dataclass(frozen=True)
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """The one process that writes checkpoints, metrics.jsonl and trackers."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


ALONE = World()


def environment_world() -> World:
    """The world torchrun describes in the environment, or a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return ALONE
    return World(rank=int(os.environ["RANK"]), local_rank=int(os.environ["LOCAL_RANK"]), size=size)


def join(device_name: str) -> tuple[World, torch.device]:
    """Join the process group torchrun set up (NCCL on CUDA, one GPU per process by LOCAL_RANK; gloo on the
    CPU) and pick this process's device."""
    world = environment_world()
    device = pick_device(device_name)
    if not world.distributed:
        return world, device
    if device.type == "cuda":
        if device_name not in ("auto", "cuda"):
            raise UsageError(f"--device {device_name}: under torchrun each process takes the GPU of its LOCAL_RANK; "
                             "give --device cuda (or auto), and CUDA_VISIBLE_DEVICES to choose the GPUs")
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                device_id=device if device.type == "cuda" else None)
    if not world.main:  # one log of the run, not one per process
        logging.getLogger("captionbot").setLevel(logging.WARNING)
    return world, device


def leave(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.barrier()  # rank 0 may still be writing the last checkpoint
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def wrap(model: torch.nn.Module, world: World, device: torch.device) -> torch.nn.Module:
    """The model as the training step calls it: DistributedDataParallel in a world of several (which also
    makes every rank start from rank 0's weights), the model itself alone."""
    if not world.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def accumulating(trained: torch.nn.Module, final: bool):
    """DDP's `no_sync` on the micro-batches before an optimizer step: their gradients add up locally and are
    averaged once, with the last micro-batch's."""
    if final or not hasattr(trained, "no_sync"):
        return contextlib.nullcontext()
    return trained.no_sync()


def total(world: World, value: torch.Tensor) -> torch.Tensor:
    """`value` summed over the ranks (the tensor itself alone)."""
    if world.distributed:
        value = value.clone()
        dist.all_reduce(value)
    return value


def merged(world: World, part: dict) -> dict:
    """Every rank's `part` in one dict, on every rank."""
    if not world.distributed:
        return part
    parts: list = [None] * world.size
    dist.all_gather_object(parts, part)
    return {key: value for each in parts for key, value in each.items()}


def from_main(world: World, make):
    """`make()` run on rank 0 alone, its result given to every rank."""
    if not world.distributed:
        return make()
    box = [make() if world.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]
