"""The NAS-Bench-101 space: module specs (prune, hash), the network, the benchmark's records, sampling."""

from .network import NB101Network
from .records import NB101Records, NB101Result, encode_record, write_nb101_records
from .sampler import Sample, load_samples, sample_deciles, save_samples
from .spec import ModelSpec, SpecError, load_spec

__all__ = [
    "ModelSpec", "SpecError", "load_spec", "NB101Network", "NB101Records", "NB101Result", "encode_record",
    "write_nb101_records", "Sample", "sample_deciles", "save_samples", "load_samples",
]
