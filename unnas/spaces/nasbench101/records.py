"""The official NAS-Bench-101 data files (``nasbench_full.tfrecord``, ``nasbench_only108.tfrecord``).

Every record is one training run: the JSON string ``[module_hash, epochs, adjacency_bits,
ops_csv, base64(ModelMetrics)]`` where ``adjacency_bits`` is the row-major 0/1 matrix and
``ModelMetrics`` the benchmark's protobuf message (evaluations at the start, halfway and end
of training). The message classes are built at run time from a descriptor, so neither
TensorFlow nor protoc-generated files are needed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from unnas.errors import DataError, GenotypeError

from .spec import ModelSpec
from .tfrecord import iter_records, write_records

METRICS = ("train", "validation", "test")
_EVAL_FIELDS = ("current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy")


@functools.lru_cache(maxsize=None)
def model_metrics_class() -> type:
    """The benchmark's ``nasbench.ModelMetrics`` message class (proto2, field numbers as released)."""
    # protobuf: imported on use (0.1 s), only reading the benchmark's records needs it
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="unnas/nasbench101/model_metrics.proto", package="nasbench",
                                             syntax="proto2")
    ev = fdp.message_type.add(name="EvaluationData")
    for number, name in enumerate(_EVAL_FIELDS, start=1):
        ev.field.add(name=name, number=number, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    ev.field.add(name="checkpoint_path", number=6, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    mm = fdp.message_type.add(name="ModelMetrics")
    mm.field.add(name="evaluation_data", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                 type_name=".nasbench.EvaluationData")
    mm.field.add(name="trainable_parameters", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    mm.field.add(name="total_time", number=3, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()  # private pool: no clash with other copies of the proto
    pool.AddSerializedFile(fdp.SerializeToString())
    desc = pool.FindMessageTypeByName("nasbench.ModelMetrics")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)  # protobuf < 4.22


class Run(NamedTuple):
    """One training run: accuracies (fractions) and training time (s) halfway and at the end."""

    halfway_training_time: float
    halfway_train_accuracy: float
    halfway_validation_accuracy: float
    halfway_test_accuracy: float
    final_training_time: float
    final_train_accuracy: float
    final_validation_accuracy: float
    final_test_accuracy: float


class RawRecord(NamedTuple):
    module_hash: str
    epochs: int
    adjacency: str
    ops: str
    metrics: Any  # ModelMetrics message


def parse_record(payload: bytes, where: str = "record") -> RawRecord:
    """Decode one record's JSON and protobuf."""
    message_class = model_metrics_class()
    from google.protobuf.message import DecodeError  # imported by model_metrics_class already: no cost here

    try:
        module_hash, epochs, adjacency, ops, raw = json.loads(payload.decode("utf-8"))
        metrics = message_class.FromString(base64.b64decode(raw, validate=True))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError, binascii.Error, DecodeError) as e:
        raise DataError(f"{where}: not a NAS-Bench-101 record ({type(e).__name__}: {e})") from None
    return RawRecord(str(module_hash), int(epochs), str(adjacency), str(ops), metrics)


def _run_from_metrics(metrics: Any, where: str) -> Run:
    evals = metrics.evaluation_data
    if not evals:
        raise DataError(f"{where}: the run has no evaluation data")
    final = evals[-1]
    half = evals[len(evals) - 2] if len(evals) >= 2 else final  # the benchmark stores [start, halfway, end]
    return Run(half.training_time, half.train_accuracy, half.validation_accuracy, half.test_accuracy,
               final.training_time, final.train_accuracy, final.validation_accuracy, final.test_accuracy)


def encode_record(spec: ModelSpec, epochs: int, evaluations: Sequence[Mapping[str, float]],
                  trainable_parameters: int, total_time: float = 0.0, module_hash: str | None = None) -> bytes:
    """One record in the official format; ``evaluations`` are dicts of EvaluationData fields."""
    msg = model_metrics_class()(trainable_parameters=int(trainable_parameters), total_time=float(total_time))
    for ev in evaluations:
        msg.evaluation_data.add(**dict(ev))
    bits = "".join(str(int(b)) for b in spec.matrix.reshape(-1))
    row = [module_hash or spec.module_hash(), int(epochs), bits, ",".join(spec.ops),
           base64.b64encode(msg.SerializeToString()).decode("ascii")]
    return json.dumps(row, allow_nan=False).encode("utf-8")


def write_nb101_records(path: str | Path, payloads: Iterator[bytes] | Sequence[bytes]) -> int:
    """Write records made by :func:`encode_record` as a TFRecord file."""
    return write_records(path, payloads)


def spec_from_record(adjacency: str, ops: str, where: str = "record") -> ModelSpec:
    n = int(round(len(adjacency) ** 0.5))
    if n * n != len(adjacency) or set(adjacency) - {"0", "1"}:
        raise DataError(f"{where}: adjacency {adjacency!r} is not a square 0/1 bit string")
    try:
        return ModelSpec(np.array([int(c) for c in adjacency]).reshape(n, n), ops.split(","), where=where)
    except GenotypeError as e:
        raise DataError(str(e)) from None


@dataclass(frozen=True)
class NB101Result:
    """What the benchmark recorded for one module at one epoch budget (means over the repeats)."""

    module_hash: str
    spec: ModelSpec
    epochs: int
    trainable_parameters: int
    runs: tuple[Run, ...]

    def _mean(self, field: str) -> float:
        return float(np.mean([getattr(r, field) for r in self.runs]))

    @property
    def validation_accuracy(self) -> float:
        return self._mean("final_validation_accuracy")

    @property
    def test_accuracy(self) -> float:
        return self._mean("final_test_accuracy")

    @property
    def train_accuracy(self) -> float:
        return self._mean("final_train_accuracy")

    @property
    def training_time(self) -> float:
        return self._mean("final_training_time")

    def as_dict(self) -> dict:
        return {
            "module_hash": self.module_hash, **self.spec.to_dict(), "epochs": self.epochs,
            "trainable_parameters": self.trainable_parameters, "repeats": len(self.runs),
            "train_accuracy": self.train_accuracy, "validation_accuracy": self.validation_accuracy,
            "test_accuracy": self.test_accuracy, "training_time": self.training_time,
        }


class NB101Records:
    """An in-memory index of a NAS-Bench-101 records file: module hash → epochs → runs.

    ``epochs`` keeps only those budgets (e.g. ``{108}``) to save memory on the full file;
    ``verify=False`` skips the CRC checks.
    """

    def __init__(self, path: str | Path, epochs: Sequence[int] | None = None, verify: bool = True):
        self.path = Path(path)
        keep = None if epochs is None else {int(e) for e in epochs}
        self._fixed: dict[str, tuple[str, str, int]] = {}
        self._runs: dict[str, dict[int, list[Run]]] = {}
        for index, payload in enumerate(iter_records(self.path, verify=verify)):
            where = f"{self.path}: record {index}"
            rec = parse_record(payload, where)
            if keep is not None and rec.epochs not in keep:
                continue
            if rec.module_hash not in self._fixed:
                self._fixed[rec.module_hash] = (rec.adjacency, rec.ops, int(rec.metrics.trainable_parameters))
                self._runs[rec.module_hash] = {}
            self._runs[rec.module_hash].setdefault(rec.epochs, []).append(_run_from_metrics(rec.metrics, where))
        if not self._fixed:
            raise DataError(f"{self.path}: no NAS-Bench-101 records" + (f" for epochs {sorted(keep)}" if keep else ""))

    def __len__(self) -> int:
        return len(self._fixed)

    def hashes(self) -> list[str]:
        """Module hashes in the order they first appear in the file."""
        return list(self._fixed)

    @property
    def epochs(self) -> list[int]:
        return sorted({e for runs in self._runs.values() for e in runs})

    def spec(self, module_hash: str) -> ModelSpec:
        adjacency, ops, _ = self._fixed[self._known(module_hash)]
        return spec_from_record(adjacency, ops, where=f"{self.path}: module {module_hash}")

    def lookup(self, spec_or_hash: ModelSpec | str, epochs: int = 108) -> NB101Result:
        """Recorded metrics of a spec (matched by its pruned module hash) or of a hash."""
        module_hash = spec_or_hash.module_hash() if isinstance(spec_or_hash, ModelSpec) else spec_or_hash
        module_hash = self._known(module_hash)
        runs = self._runs[module_hash].get(int(epochs))
        if not runs:
            raise DataError(f"{self.path}: module {module_hash} has no {epochs}-epoch runs; recorded budgets: {sorted(self._runs[module_hash])}")
        return NB101Result(module_hash, self.spec(module_hash), int(epochs), self._fixed[module_hash][2], tuple(runs))

    def mean_accuracies(self, epochs: int = 108, metric: str = "test") -> dict[str, float]:
        """Mean final accuracy over the repeats, per module hash with runs at ``epochs``."""
        if metric not in METRICS:
            raise DataError(f"unknown accuracy metric {metric!r}; choose from {', '.join(METRICS)}")
        field = Run._fields.index(f"final_{metric}_accuracy")
        return {h: float(np.mean([r[field] for r in by_epochs[epochs]]))
                for h, by_epochs in self._runs.items() if by_epochs.get(epochs)}

    def _known(self, module_hash: str) -> str:
        if module_hash not in self._fixed:
            raise DataError(f"{self.path}: no records for module hash {module_hash}; the spec is not in this file")
        return module_hash
