"""The NAS-Bench-MR space (Ding et al., ICLR 2022): 27-value multi-resolution architectures, their
code, the HRNet-style network, sampling and mutation."""

from .arch import CHANNELS, DIM, LABELS, MRArch, default_arch, load_arch
from .code import MRCode
from .mutation import MRSpace
from .network import MRNetwork
from .sampler import load_samples, sample_architectures, save_samples

__all__ = ["CHANNELS", "DIM", "LABELS", "MRArch", "default_arch", "load_arch", "MRCode", "MRSpace", "MRNetwork",
           "load_samples", "sample_architectures", "save_samples"]
