"""TFRecord files without TensorFlow: framing and masked CRC32C checks.

Each record is ``uint64 length (LE) | uint32 masked crc32c(length bytes) | data |
uint32 masked crc32c(data)``. The CRC uses the ``google-crc32c`` package when it is
installed (C speed) and a table-driven pure-Python fallback otherwise (correct but slow:
fine for tests and small files, minutes per 100 MB).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from unnas.errors import DataError

try:  # pragma: no cover - which branch runs depends on the environment
    import google_crc32c as _gcrc

    def crc32c(data: bytes) -> int:
        """CRC-32C (Castagnoli) of ``data``."""
        return _gcrc.value(bytes(data))

    CRC_BACKEND = "google-crc32c"
except ImportError:  # pragma: no cover
    crc32c = None  # set below
    CRC_BACKEND = "python"

_POLY = 0x82F63B78  # reflected Castagnoli polynomial


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c_python(data: bytes) -> int:
    """CRC-32C in pure Python (the fallback when google-crc32c is missing)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in bytes(data):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


if crc32c is None:  # pragma: no cover
    crc32c = crc32c_python


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant (mod 2³²)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _check_length(data: bytes, n: int, index: int, path: Path, what: str) -> bytes:
    if len(data) != n:
        raise DataError(
            f"{path}: record {index} is truncated ({what}: expected {n} bytes, got {len(data)}); "
            "the file is incomplete, download it again"
        )
    return data


def _read_exact(f: BinaryIO, n: int, index: int, path: Path, what: str) -> bytes:
    return _check_length(f.read(n), n, index, path, what)


def iter_records(path: str | Path, verify: bool = True) -> Iterator[bytes]:
    """Yield the payload of every record; a bad CRC or a cut-off record is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: TFRecord file not found")
    with path.open("rb", buffering=1 << 20) as f:
        index = 0
        while True:
            head = f.read(8)
            if not head:
                return
            _check_length(head, 8, index, path, "length")
            (length,) = _U64.unpack(head)
            (head_crc,) = _U32.unpack(_read_exact(f, 4, index, path, "length checksum"))
            if verify and masked_crc(head) != head_crc:
                raise DataError(f"{path}: record {index} has a corrupt length field (CRC mismatch); the file is damaged")
            data = _read_exact(f, length, index, path, "data")
            (data_crc,) = _U32.unpack(_read_exact(f, 4, index, path, "data checksum"))
            if verify and masked_crc(data) != data_crc:
                raise DataError(f"{path}: record {index} has corrupt data (CRC mismatch); the file is damaged")
            yield data
            index += 1


def write_records(path: str | Path, payloads: Iterable[bytes]) -> int:
    """Write payloads as TFRecords; returns the number written."""
    n = 0
    with Path(path).open("wb") as f:
        for data in payloads:
            head = _U64.pack(len(data))
            f.write(head)
            f.write(_U32.pack(masked_crc(head)))
            f.write(data)
            f.write(_U32.pack(masked_crc(data)))
            n += 1
    return n
