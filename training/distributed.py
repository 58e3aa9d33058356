"""One process or many (torchrun): who this process is and how it talks to the others.

Under torchrun every process draws the same global batch from the shared seed and trains on its
slice of it; DistributedDataParallel averages the gradients, so the update equals the
single-process one up to BatchNorm statistics, which are per process. A loss over pairs of images
(the angular loss) is not a sum of per-slice losses: there each process gathers every process's
embeddings (`gather_with_grad`) and computes the loss of the whole global batch, whose gradient
reaches its own embeddings; the processes' gradients together are the global loss's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class ProcessGroup:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def slice(self, indices):
        """This process's share of a global batch."""
        return indices[self.rank :: self.world_size]

    def mean(self, value: float) -> float:
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def slice_sizes(self, global_size: int) -> list[int]:
        """How many images of a global batch of `global_size` each process's slice holds."""
        return [len(range(rank, global_size, self.world_size)) for rank in range(self.world_size)]

    def gather_with_grad(self, local: torch.Tensor, global_size: int) -> torch.Tensor:
        """Every process's `local` rows, rank after rank; only this process's rows carry gradient
        (the others' gradients are computed by their own processes)."""
        if self.world_size == 1:
            return local
        sizes = self.slice_sizes(global_size)
        padded = local.new_zeros((max(sizes), *local.shape[1:]))
        padded[: len(local)] = local.detach()
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded)
        parts = [part[:size] for part, size in zip(parts, sizes)]
        parts[self.rank] = local
        return torch.cat(parts)

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


def pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but this machine has no CUDA device")
    return device


def start_process_group(requested_device: str) -> ProcessGroup:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(requested_device)
    if world_size == 1:
        return ProcessGroup(0, 1, device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return ProcessGroup(dist.get_rank(), world_size, device)


def stop_process_group(group: ProcessGroup) -> None:
    if group.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
