"""The TransNAS-Bench-101 spaces (Duan et al., CVPR 2021): the micro (cell-level, ``transnas_micro``)
and macro (skeleton-level, ``transnas_macro``) spaces — strings, rules and enumeration, codes for
NCP, black-box views (sample, mutate, decisions), the encoder network and its cost, sampling, and
pictures (:mod:`.plots`, imported on use)."""

from .arch import (
                   MACRO,
                   MICRO,
                   MICRO_OPS,
                   MODULE_KINDS,
                   SPACES,
                   MacroArch,
                   MicroArch,
                   TransNASArch,
                   all_archs,
                   is_transnas_json,
                   load_arch,
                   macro_archs,
                   micro_archs,
                   parse_arch,
)
from .code import MacroCode, MicroCode
from .mutation import TransNASMacroSpace, TransNASMicroSpace, macro_neighbours
from .network import TransNASNetwork, encoder_cost
from .sampler import load_samples, sample_architectures, save_samples, space_view

__all__ = ["MACRO", "MICRO", "MICRO_OPS", "MODULE_KINDS", "SPACES", "MacroArch", "MicroArch", "TransNASArch",
           "all_archs", "is_transnas_json", "load_arch", "macro_archs", "micro_archs", "parse_arch", "MacroCode",
           "MicroCode", "TransNASMacroSpace", "TransNASMicroSpace", "macro_neighbours", "TransNASNetwork",
           "encoder_cost", "load_samples", "sample_architectures", "save_samples", "space_view"]
