"""NAS-Bench-101 records: TFRecord framing and CRCs, the record format, lookups, decile sampling."""

import base64
import json
import struct

import numpy as np
import pytest

from unnas.errors import DataError
from unnas.spaces.nasbench101 import tfrecord
from unnas.spaces.nasbench101.records import NB101Records, encode_record, model_metrics_class, write_nb101_records
from unnas.spaces.nasbench101.sampler import load_samples, sample_deciles, save_samples, stratify
from unnas.spaces.nasbench101.spec import ModelSpec, SpecError

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
OPS = (C3, C1, MP)


def test_crc32c_and_masking_known_values():
    # CRC-32C check value (RFC 3720 / iSCSI) and the library and table paths agree
    assert tfrecord.crc32c(b"123456789") == 0xE3069283
    assert tfrecord.crc32c_python(b"123456789") == 0xE3069283
    data = bytes(range(256)) * 3
    assert tfrecord.crc32c_python(data) == tfrecord.crc32c(data)
    crc = 0xE3069283
    assert tfrecord.masked_crc(b"123456789") == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) % 2**32


def specs(count):
    """``count`` distinct small specs: chains of 1–3 interior ops plus skip variants."""
    out = {}
    for k in (1, 2, 3):
        for ops in np.ndindex(*(3,) * k):
            for skip in (0, 1):
                m = np.zeros((k + 2, k + 2), dtype=int)
                for i in range(k + 1):
                    m[i, i + 1] = 1
                m[0, -1] = skip
                s = ModelSpec(m, ["input", *(OPS[o] for o in ops), "output"])
                out.setdefault(s.module_hash(), s)
    return list(out.values())[:count]


def evals(epochs, acc):
    return [{"current_epoch": e, "training_time": 10.0 * e, "train_accuracy": acc + 0.05,
             "validation_accuracy": acc + 0.01, "test_accuracy": acc, "checkpoint_path": f"ckpt-{e}"}
            for e in (0, epochs // 2, epochs)]


def write_fixture(path, n_specs=4, budgets=(4, 108)):
    """n_specs × budgets × 3 repeats; test accuracy = 0.5 + 0.1·spec + 0.01·repeat + budget/1000."""
    rows, truth = [], {}
    for i, spec in enumerate(specs(n_specs)):
        for epochs in budgets:
            for r in range(3):
                acc = 0.5 + 0.1 * i + 0.01 * r + epochs / 1000
                rows.append(encode_record(spec, epochs, evals(epochs, acc), trainable_parameters=1000 + i))
            truth[(spec.module_hash(), epochs)] = 0.5 + 0.1 * i + 0.01 + epochs / 1000
    assert write_nb101_records(path, rows) == len(rows)
    return truth


def test_record_layout_is_the_official_one(tmp_path):
    spec = specs(1)[0]
    path = tmp_path / "one.tfrecord"
    payload = encode_record(spec, 108, evals(108, 0.9), trainable_parameters=1234, total_time=5.0)
    write_nb101_records(path, [payload])
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    assert length == len(payload) and len(raw) == 8 + 4 + length + 4
    assert struct.unpack("<I", raw[8:12])[0] == tfrecord.masked_crc(raw[:8])
    assert struct.unpack("<I", raw[-4:])[0] == tfrecord.masked_crc(payload)
    h, epochs, bits, ops, b64 = json.loads(raw[12:-4])
    assert (h, epochs, ops) == (spec.module_hash(), 108, ",".join(spec.ops))
    assert bits == "".join(map(str, spec.matrix.reshape(-1)))
    msg = model_metrics_class().FromString(base64.b64decode(b64))
    assert msg.trainable_parameters == 1234 and msg.total_time == 5.0
    assert [e.current_epoch for e in msg.evaluation_data] == [0, 54, 108]
    assert msg.evaluation_data[2].checkpoint_path == "ckpt-108"
    # field numbers as in the benchmark's model_metrics.proto: trainable_parameters is field 2, varint
    assert bytes([2 << 3 | 0]) + bytes([0xD2, 0x09]) in msg.SerializeToString()


def test_read_back_and_lookup(tmp_path):
    path = tmp_path / "nb.tfrecord"
    truth = write_fixture(path)
    recs = NB101Records(path)
    assert len(recs) == 4 and recs.epochs == [4, 108]
    first = specs(4)[1]
    res = recs.lookup(first, epochs=108)
    assert res.module_hash == first.module_hash() and res.spec == first
    assert len(res.runs) == 3 and res.trainable_parameters == 1001
    assert res.test_accuracy == pytest.approx(truth[(first.module_hash(), 108)])
    assert res.validation_accuracy == pytest.approx(res.test_accuracy + 0.01)
    assert res.training_time == pytest.approx(1080.0)
    assert res.runs[0].halfway_training_time == pytest.approx(540.0)
    assert recs.lookup(first.module_hash(), epochs=4).test_accuracy == pytest.approx(truth[(first.module_hash(), 4)])
    assert res.as_dict()["repeats"] == 3
    # an isomorphic relabelling of a spec finds the same record
    m = np.zeros((4, 4), dtype=int)
    m[0, 1] = m[0, 2] = m[1, 3] = m[2, 3] = 1
    a = ModelSpec(m, ["input", C3, C1, "output"])
    b = ModelSpec(m, ["input", C1, C3, "output"])
    path2 = tmp_path / "iso.tfrecord"
    write_nb101_records(path2, [encode_record(a, 108, evals(108, 0.7), 5)])
    assert NB101Records(path2).lookup(b).test_accuracy == pytest.approx(0.7)
    # missing spec / budget are one-line errors
    with pytest.raises(DataError, match="no records for module hash"):
        recs.lookup(specs(5)[4])
    with pytest.raises(DataError, match="no 36-epoch runs; recorded budgets: \\[4, 108\\]"):
        recs.lookup(first, epochs=36)
    # keep only one budget
    assert NB101Records(path, epochs=[108]).epochs == [108]


def test_corrupt_and_truncated_files_are_errors(tmp_path):
    path = tmp_path / "nb.tfrecord"
    write_fixture(path, n_specs=2, budgets=(108,))
    raw = path.read_bytes()
    starts = [0]
    while starts[-1] < len(raw):
        starts.append(starts[-1] + 16 + struct.unpack("<Q", raw[starts[-1]:starts[-1] + 8])[0])
    assert len(starts) == 7  # 6 records
    flipped = bytearray(raw)
    flipped[starts[2] + 40] ^= 0x01  # a data byte of record 2
    bad = tmp_path / "flipped.tfrecord"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(DataError, match=r"flipped\.tfrecord: record 2 has corrupt data \(CRC mismatch\)"):
        NB101Records(bad)
    length_flip = bytearray(raw)
    length_flip[starts[1] + 1] ^= 0x01  # the length field of record 1
    bad.write_bytes(bytes(length_flip))
    with pytest.raises(DataError, match="record 1 has a corrupt length field"):
        NB101Records(bad)
    cut = tmp_path / "cut.tfrecord"
    for keep in (len(raw) - 3, starts[5] + 5):
        cut.write_bytes(raw[:keep])
        with pytest.raises(DataError, match=r"cut\.tfrecord: record 5 is truncated"):
            NB101Records(cut)
    with pytest.raises(DataError, match="not found"):
        NB101Records(tmp_path / "missing.tfrecord")
    junk = tmp_path / "junk.tfrecord"
    tfrecord.write_records(junk, [b"[1, 2"])
    with pytest.raises(DataError, match="record 0: not a NAS-Bench-101 record"):
        NB101Records(junk)


def test_stratify_draws_evenly_from_every_decile():
    scores = {f"h{i:03d}": float(i % 97) / 97 for i in range(200)}
    picked = stratify(scores, per_decile=3, seed=1)
    assert len(picked) == 30 and len({k for k, _, _ in picked}) == 30
    ranked = sorted(scores, key=lambda k: (scores[k], k))
    for key, score, decile in picked:
        assert ranked.index(key) // 20 == decile and score == scores[key]
    assert [p[2] for p in picked] == sorted(p[2] for p in picked)
    assert stratify(scores, 3, seed=1) == picked and stratify(scores, 3, seed=2) != picked
    with pytest.raises(DataError, match="cannot fill 10 bins of 30"):
        stratify(scores, per_decile=30)


def test_sample_deciles_from_records_round_trip(tmp_path):
    rows = []
    for i, spec in enumerate(specs(30)):
        for r in range(3):
            rows.append(encode_record(spec, 108, evals(108, 0.3 + 0.02 * i + 0.001 * r), 100))
    path = tmp_path / "nb.tfrecord"
    write_nb101_records(path, rows)
    recs = NB101Records(path)
    samples = sample_deciles(recs, per_decile=2, seed=0)
    assert len(samples) == 20 and [s.decile for s in samples] == [d for d in range(10) for _ in range(2)]
    for s in samples:  # 30 archs in rank order = file order here: decile d holds positions 3d..3d+2
        assert int(s.id) // 3 == s.decile
        assert s.accuracy == pytest.approx(recs.lookup(s.module_hash).test_accuracy)
    out = tmp_path / "samples.json"
    save_samples(out, samples, epochs=108, metric="test")
    assert json.loads(out.read_text())["epochs"] == 108
    assert load_samples(out) == samples
    data = json.loads(out.read_text())
    data["archs"][0]["module_hash"] = "0" * 32
    out.write_text(json.dumps(data))
    with pytest.raises(SpecError, match="does not match the spec's hash"):
        load_samples(out)
