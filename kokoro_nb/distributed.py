"""More than one process: the same training under torchrun, with DistributedDataParallel.

    torchrun --standalone --nproc_per_node 4 -m kokoro_nb train --corpus ./ruslan_corpus

torchrun starts one process (a *rank*) per GPU and tells each its place in the environment
(RANK, WORLD_SIZE, LOCAL_RANK and where rank 0 listens). `Ranks.from_environment` reads it,
joins the process group (nccl between CUDA GPUs, gloo on CPUs) and pins the rank to its
local GPU. Every rank then trains the same model on its own share of each epoch's batches
(`corpus.shard_batches`); DistributedDataParallel averages the gradients during backward,
so the weights stay equal on all ranks. The rest is agreement, all through torch.distributed:

- rank 0 alone writes files (checkpoints, metrics.jsonl, PNGs, samples, TensorBoard) and
  validates; the others wait for it (`barrier`) and take its decisions (`from_main`);
- the logged loss is the mean over ranks (`mean`), and a NaN/Inf loss on any rank makes
  every rank skip the step (they all see the same mean);
- a stop signal on any rank stops all of them after the same step (`any`);
- every rank's random state goes into the checkpoint (`gather`), so the same rank count
  resumes exactly; a rank that dies makes the others fail after the process group's
  timeout instead of waiting forever (torchrun usually stops them sooner).

Without torchrun, `Ranks()` is one rank and every call here does nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)

# The environment torchrun sets for each process it starts.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launched_by_torchrun() -> bool:
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training's processes (one, without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes files, validates and logs."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Whether there is a process group to talk to."""
        return dist.is_available() and dist.is_initialized()

    @classmethod
    def from_environment(cls) -> Ranks:
        """This process's place as torchrun's environment gives it; one rank without it."""
        if not launched_by_torchrun():
            return cls()
        return cls(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                   int(os.environ["LOCAL_RANK"]))

    def join(self, device: torch.device, timeout_minutes: float = 30.0) -> torch.device:
        """Under torchrun: join the process group (nccl for CUDA, gloo otherwise) and return
        the device this rank trains on (a CUDA device becomes the local rank's GPU). Without
        torchrun, `device` as it is."""
        if not launched_by_torchrun():
            return device
        if device.type == "mps":
            raise ValueError("torchrun with MPS is not supported (a Mac has one GPU): train "
                             "in one process, or pass --device cpu to try torchrun there")
        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            pinned = {"device_id": device} if device.type == "cuda" else {}
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                    timeout=timedelta(minutes=timeout_minutes), **pinned)
        if not self.is_main:  # one log, rank 0's; the others report only problems
            logging.getLogger("kokoro_nb").setLevel(logging.WARNING)
        log.info("torchrun: rank %d of %d (local rank %d), %s backend, timeout %g minutes",
                 self.rank, self.world_size, self.local_rank, dist.get_backend(),
                 timeout_minutes)
        return device

    @contextlib.contextmanager
    def main_first(self):
        """Rank 0 runs the block first (filling caches), then the others."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    # ------------------------------------------------------------ collectives
    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def mean(self, values: dict[str, torch.Tensor]) -> dict[str, float]:
        """Each value's (a scalar tensor's) mean over the ranks, in one all-reduce; floats."""
        keys = list(values)
        stacked = torch.stack([values[k].detach().float().reshape(()) for k in keys])
        if self.active:
            dist.all_reduce(stacked)
            stacked /= self.world_size
        return dict(zip(keys, stacked.tolist(), strict=True))

    def any(self, flag: bool, device: torch.device) -> bool:
        """Whether `flag` is true on any rank."""
        if not self.active:
            return flag
        value = torch.tensor([float(flag)], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def from_main(self, value):
        """Rank 0's `value` on every rank (any picklable object)."""
        if not self.active:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value) -> list:
        """Every rank's `value`, in rank order (any picklable object)."""
        if not self.active:
            return [value]
        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    # ------------------------------------------------------------ the model
    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The module to train with: DistributedDataParallel around `model` under torchrun,
        `model` itself otherwise. Rank 0's weights are copied to all ranks here; the
        buffers (mel statistics) are equal on all ranks and never change in training, so
        they are not sent at every step."""
        if not self.active:
            return model
        import inspect

        from torch.nn.parallel import DistributedDataParallel

        # torch >= 2.12 names the option forward_sync_buffers; older ones broadcast_buffers.
        options = inspect.signature(DistributedDataParallel).parameters
        no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in options
                   else {"broadcast_buffers": False})
        return DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, **no_sync)

    @staticmethod
    def accumulating(network: torch.nn.Module, last: bool):
        """Around the forward and backward of a batch that is not the last of a gradient
        accumulation group: DDP's `no_sync` (its gradients wait for the last batch's
        all-reduce). Elsewhere nothing."""
        if last or not hasattr(network, "no_sync"):
            return contextlib.nullcontext()
        return network.no_sync()

    def close(self) -> None:
        """Leave the process group (at the end of a torchrun training)."""
        if self.active:
            dist.destroy_process_group()
