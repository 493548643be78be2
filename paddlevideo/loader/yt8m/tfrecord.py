"""TFRecord file framing: read and write length-delimited records with masked CRC-32C checks.

Every record of an (uncompressed) ``.tfrecord`` file is laid out as in TensorFlow's
``tensorflow/core/lib/io/record_writer.cc`` / ``record_reader.cc`` (docs/youtube8m_format.md#tfrecord-framing)::

    uint64 length            little-endian
    uint32 masked_crc32c(the 8 length bytes)
    bytes  data[length]
    uint32 masked_crc32c(data)

with ``masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2**32)`` and ``crc`` the CRC-32C
(Castagnoli) of the bytes, computed here with the ``crc32c`` package.
"""
from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterable, Iterator

import crc32c as _crc32c

from ...utils.atomic import atomic_write
from .errors import CorruptRecordError

__all__ = [
    "FOOTER_SIZE",
    "HEADER_SIZE",
    "encode_record",
    "iter_records",
    "masked_crc32c",
    "write_records",
]

#: Bytes before each payload: the uint64 length and its uint32 masked CRC.
HEADER_SIZE = 12
#: Bytes after each payload: the uint32 masked CRC of the payload.
FOOTER_SIZE = 4

_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")
_LENGTH = struct.Struct("<Q")
# Reads go through a buffer this large, so that the 12-byte header and 4-byte footer reads do
# not each cost a system call; payloads larger than the buffer are read straight into bytes.
_READ_BUFFER = 4 << 20


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """Return the masked CRC-32C that TFRecord framing stores for ``data``.

    Args:
        data: any bytes-like object (length bytes or a record payload).

    Returns:
        ``int`` in ``[0, 2**32)``: ``((c >> 15) | (c << 17)) + 0xa282ead8`` modulo ``2**32``,
        where ``c = crc32c(data)`` (Castagnoli polynomial, reflected 0x82F63B78).

    Source: TensorFlow ``tensorflow/core/lib/hash/crc32c.h`` (``Mask``); docs/youtube8m_format.md#tfrecord-framing.
    """
    crc = _crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def iter_records(path: str | os.PathLike) -> Iterator[tuple[int, int, bytes]]:
    """Iterate over the records of an uncompressed TFRecord file, checking both CRCs.

    Args:
        path: the ``.tfrecord`` file.

    Yields:
        ``(index, offset, payload)``: the 0-based record index, the byte offset of the record's
        12-byte header in the file, and the payload (``bytes``, ``length`` bytes).

    Raises:
        CorruptRecordError: the length CRC or the data CRC does not match, or the file ends
            inside a header, a payload or a footer. The error names the file, the record index
            and the record's byte offset. An empty file is valid and yields nothing.
        OSError: the file cannot be opened or read.

    The file is read through a large buffer; records are yielded lazily, so memory stays at
    about one record plus the buffer.

    Source: TensorFlow ``record_reader.cc`` (framing and CRC checks); docs/youtube8m_format.md#tfrecord-framing.
    """
    path_str = os.fspath(path)
    with open(path_str, "rb", buffering=_READ_BUFFER) as f:
        file_size = _regular_file_size(f)
        read = f.read
        index = 0
        offset = 0
        while True:
            header = read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                if header:
                    raise CorruptRecordError(
                        path_str, index, offset,
                        f"truncated header: file ends after {len(header)} of {HEADER_SIZE} bytes",
                    )
                return
            length, length_crc = _HEADER.unpack(header)
            expected = masked_crc32c(header[:8])
            if length_crc != expected:
                raise CorruptRecordError(
                    path_str, index, offset,
                    f"length CRC mismatch: stored 0x{length_crc:08x}, computed 0x{expected:08x} "
                    f"for length field {length}",
                )
            end = offset + HEADER_SIZE + length + FOOTER_SIZE
            if file_size is not None and end > file_size:
                # Checked before reading so that a damaged length never allocates a huge buffer.
                available = max(0, file_size - offset - HEADER_SIZE)
                what = "payload" if available < length else "footer"
                have = min(available, length) if what == "payload" else available - length
                need = length if what == "payload" else FOOTER_SIZE
                raise CorruptRecordError(
                    path_str, index, offset,
                    f"truncated {what}: file ends after {have} of {need} bytes",
                )
            payload = read(length)
            if len(payload) < length:
                raise CorruptRecordError(
                    path_str, index, offset,
                    f"truncated payload: file ends after {len(payload)} of {length} bytes",
                )
            footer = read(FOOTER_SIZE)
            if len(footer) < FOOTER_SIZE:
                raise CorruptRecordError(
                    path_str, index, offset,
                    f"truncated footer: file ends after {len(footer)} of {FOOTER_SIZE} bytes",
                )
            (data_crc,) = _FOOTER.unpack(footer)
            expected = masked_crc32c(payload)
            if data_crc != expected:
                raise CorruptRecordError(
                    path_str, index, offset,
                    f"data CRC mismatch: stored 0x{data_crc:08x}, computed 0x{expected:08x} "
                    f"over {length} payload bytes",
                )
            yield index, offset, payload
            index += 1
            offset = end


def _regular_file_size(f) -> int | None:
    """Size in bytes of an open regular file, or None for pipes and other streams."""
    st = os.fstat(f.fileno())
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def encode_record(payload: bytes | bytearray | memoryview) -> bytes:
    """Return ``payload`` framed as one TFRecord (header, payload, footer).

    Args:
        payload: the serialized record (any bytes-like object).

    Returns:
        ``bytes`` of length ``len(payload) + 16``.

    Source: TensorFlow ``record_writer.cc``; docs/youtube8m_format.md#tfrecord-framing.
    """
    length = _LENGTH.pack(len(payload))
    return b"".join(
        (
            length,
            _FOOTER.pack(masked_crc32c(length)),
            bytes(payload),
            _FOOTER.pack(masked_crc32c(payload)),
        )
    )


def write_records(
    path: str | os.PathLike, payloads: Iterable[bytes | bytearray | memoryview]
) -> int:
    """Write ``payloads`` as an uncompressed TFRecord file, atomically.

    The records go to a temporary file in the same directory, which is flushed, ``fsync``-ed
    and then renamed over ``path`` with ``os.replace``; a crash or an exception while writing
    (including one raised by the ``payloads`` iterable) leaves any existing ``path`` untouched
    and removes the temporary file.

    Args:
        path: destination file; its directory must exist.
        payloads: serialized records (bytes-like), written in order.

    Returns:
        The number of records written.

    Raises:
        OSError: the file cannot be written.

    Source: TensorFlow ``record_writer.cc`` (framing); docs/youtube8m_format.md#tfrecord-framing.
    """
    def write(tmp: str) -> int:
        count = 0
        with open(tmp, "wb", buffering=_READ_BUFFER) as f:
            for payload in payloads:
                f.write(encode_record(payload))
                count += 1
        return count

    return atomic_write(path, write)
