"""The NAS-Bench-201 space (Dong & Yang, ICLR 2020; NATS-Bench "tss"): 4-node cells of 5 ops, their
official string and index order, their code (NCP's one-hot layout), the benchmark network and its
cost convention, sampling, mutation and a cell picture (:mod:`.plots`, imported on use)."""

from .arch import (
                   EDGES,
                   NUM_ARCHS,
                   OPS,
                   SPACE,
                   NB201Arch,
                   all_archs,
                   arch_at,
                   index_of,
                   is_connected,
                   is_nb201_json,
                   load_arch,
)
from .code import CODE_OPS, NB201Code
from .cost import benchmark_cost, count_flops
from .mutation import NB201Space
from .network import NB201Network
from .sampler import load_samples, sample_architectures, save_samples

__all__ = ["EDGES", "NUM_ARCHS", "OPS", "SPACE", "NB201Arch", "all_archs", "arch_at", "index_of", "is_connected",
           "is_nb201_json", "load_arch", "CODE_OPS", "NB201Code", "benchmark_cost", "count_flops", "NB201Space",
           "NB201Network", "load_samples", "sample_architectures", "save_samples"]
