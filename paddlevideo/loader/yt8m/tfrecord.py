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
from dataclasses import dataclass, field
from typing import BinaryIO

import crc32c as _crc32c
import numpy as np

from ...utils.atomic import atomic_write
from .errors import CorruptRecordError, DataReadError

__all__ = [
    "FOOTER_SIZE",
    "HEADER_SIZE",
    "FileIndex",
    "encode_record",
    "index_tfrecord",
    "iter_records",
    "masked_crc32c",
    "read_payload_at",
    "regular_file_size",
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
_GZIP_MAGIC = b"\x1f\x8b"
_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
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


def regular_file_size(path: str) -> int:
    """Size in bytes of ``path``, which must be a regular file (symlinks followed).

    Raises:
        DataReadError: the path is missing (also a dangling symlink), unreadable (a symlink loop,
            permissions) or not a regular file (a directory, a FIFO, which would block a reader forever).
    """
    try:
        st = os.stat(path)
    except OSError as e:
        raise DataReadError.from_exception(e, path) from None
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(st.st_mode)), "not a regular file")
        raise DataReadError(path, f"cannot read the file: it is {kind}, not a regular file")
    return int(st.st_size)


@dataclass
class FileIndex:
    """Where the records of one TFRecord file start.

    Attributes:
        path: the file.
        offsets: int64 [n], byte offset of each record's 12-byte header.
        lengths: int64 [n], payload length of each record in bytes (its length CRC was checked).
        problem: the framing error that stopped indexing (truncated file, length CRC mismatch), or
            None when the whole file was indexed. Records before it are usable; nothing after it is.
    """

    path: str
    offsets: np.ndarray
    lengths: np.ndarray
    problem: CorruptRecordError | None = field(default=None)

    def __len__(self) -> int:
        return int(len(self.offsets))


def index_tfrecord(path: str) -> FileIndex:
    """Index a TFRecord file by walking its record headers (12 bytes read per record, payloads skipped).

    The length CRC of every header is checked, so a length that is used later is trustworthy. A file
    that ends inside a record or a header whose CRC does not match stops the walk: the records before
    it are indexed and the problem is kept in :attr:`FileIndex.problem` (the caller decides whether to
    raise it). Payload CRCs are checked later, when the payload is read.

    Args:
        path: an uncompressed ``.tfrecord`` file.

    Returns:
        The :class:`FileIndex`.

    Raises:
        DataReadError: the file cannot be opened or read (see :func:`regular_file_size`), or it is
            gzip-compressed (only uncompressed TFRecords are read).
    """
    size = regular_file_size(path)
    try:
        return _index(path, size)
    except OSError as e:
        raise DataReadError.from_exception(e, path) from None


def _index(path: str, size: int) -> FileIndex:
    offsets: list[int] = []
    lengths: list[int] = []
    problem = None
    with open(path, "rb") as f:
        offset, index = 0, 0
        while offset < size:
            header = f.read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                problem = CorruptRecordError(path, index, offset, f"truncated header: file ends after "
                                             f"{len(header)} of {HEADER_SIZE} bytes")
                break
            length, crc = _HEADER.unpack(header)
            if crc != masked_crc32c(header[:8]):
                if index == 0 and header.startswith(_GZIP_MAGIC):
                    raise DataReadError(path, "the file is gzip-compressed (a TFRecord written with compression "
                                        "GZIP); only uncompressed TFRecords are read: decompress it first, "
                                        "e.g. gunzip -c FILE > FILE.tfrecord")
                problem = CorruptRecordError(path, index, offset, f"length CRC mismatch for length field {length} "
                                             "(the rest of the file cannot be framed)")
                break
            end = offset + HEADER_SIZE + length + FOOTER_SIZE
            if end > size:
                problem = CorruptRecordError(path, index, offset, f"truncated record: it needs {end - offset} "
                                             f"bytes but the file ends after {size - offset}")
                break
            offsets.append(offset)
            lengths.append(length)
            offset, index = end, index + 1
            f.seek(offset)
    return FileIndex(path, np.asarray(offsets, np.int64), np.asarray(lengths, np.int64), problem)


def read_payload_at(f: BinaryIO, path: str, index: int, offset: int, length: int) -> bytes:
    """Read one record's payload at a known place (from :func:`index_tfrecord`) and check its data CRC.

    Args:
        f: the file, opened in binary mode (it is seeked).
        path / index: the file's name and the record's 0-based index, for errors.
        offset: byte offset of the record's 12-byte header.
        length: its payload length (the header's length CRC was checked when indexing).

    Returns:
        The payload, ``length`` bytes.

    Raises:
        CorruptRecordError: the file ends inside the record (it changed since it was indexed), or the data
            CRC does not match; named by file, record index and offset.
        OSError: the read fails.

    Source: TensorFlow ``record_reader.cc``; docs/youtube8m_format.md#tfrecord-framing.
    """
    f.seek(offset + HEADER_SIZE)
    blob = f.read(length + FOOTER_SIZE)
    if len(blob) < length + FOOTER_SIZE:
        raise CorruptRecordError(path, index, offset, "file ends inside the record (was it changed "
                                 "while training?)")
    payload = blob[:length]
    (stored,) = _FOOTER.unpack(blob[length:])
    computed = masked_crc32c(payload)
    if stored != computed:
        raise CorruptRecordError(path, index, offset, f"data CRC mismatch: stored 0x{stored:08x}, "
                                 f"computed 0x{computed:08x} over {length} payload bytes")
    return payload


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
