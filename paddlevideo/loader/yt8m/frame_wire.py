"""A fast path for frame-level records: the frames of a feature list cut out of its wire bytes with numpy.

Parsing a frame-level ``tensorflow.SequenceExample`` with the full message classes of :mod:`.proto` makes
protobuf build one ``Feature`` and one ``BytesList`` object per frame and feature (about 2 x 220 per
YouTube-8M video); reading them back one by one was the largest cost of a loader worker
(docs/performance.md, section 4). This module parses the same payload with protobuf's own parser
into a *wire-compatible* message whose feature-list values are declared ``bytes`` instead of
``FeatureList`` (a length-delimited field reads the same either way, see "Encoding" in the
protobuf documentation, https://protobuf.dev/programming-guides/encoding/#length-types), so each
feature list arrives as one bytes object. In the layout every writer of the YouTube-8M files
produces (TensorFlow's and :func:`.reader.write_tfrecord`), a frame of ``dim`` bytes is a fixed
prefix followed by its bytes::

    0x0A varint(L1)          FeatureList.feature (field 1, length-delimited), L1 = len(Feature)
      0x0A varint(L2)        Feature.bytes_list  (field 1, length-delimited), L2 = len(BytesList)
        0x0A varint(dim)     BytesList.value     (field 1, length-delimited)
          dim bytes          the quantized frame

so the list is a ``[T, prefix + dim]`` byte matrix: :func:`frames_from_wire` checks every row's prefix
with one numpy comparison and returns the frame columns. A row that passes is, by construction, exactly
one ``Feature`` holding one bytes value of ``dim`` bytes. Anything else (another width, several
values, other kinds, unknown fields, non-minimal varints, a missing list or id, a damaged payload)
makes :meth:`FrameWireDecoder.__call__` return None, and the caller decodes the record with the full
message classes, which give the same record or the same error as before.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import proto

__all__ = ["FrameWireDecoder", "frame_prefix", "frames_from_wire"]

_PROTO_FILE = "paddlevideo/yt8m/frame_wire.proto"


def _varint(n: int) -> bytes:
    """Minimal base-128 varint of ``n >= 0`` (protobuf wire format)."""
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


@functools.cache
def frame_prefix(dim: int) -> bytes:
    """The bytes that precede every ``dim``-byte frame in a FeatureList of one-value bytes features.

    Args:
        dim: bytes per frame (1024 for YouTube-8M ``rgb``, 128 for ``audio``), >= 0.

    Returns:
        ``0x0A varint(L1) 0x0A varint(L2) 0x0A varint(dim)`` with ``L2 = 1 + len(varint(dim)) + dim`` and
        ``L1 = 1 + len(varint(L2)) + L2``: 9 bytes for both YouTube-8M widths.
    """
    l2 = 1 + len(_varint(dim)) + dim
    l1 = 1 + len(_varint(l2)) + l2
    return b"\x0a" + _varint(l1) + b"\x0a" + _varint(l2) + b"\x0a" + _varint(dim)


def frames_from_wire(buf: bytes, dim: int) -> np.ndarray | None:
    """The frames of one serialized ``FeatureList`` as ``uint8 [T, dim]``, or None if it is not in the
    canonical layout (module docstring).

    Args:
        buf: the serialized FeatureList (``b""`` for an empty list).
        dim: bytes per frame.

    Returns:
        A new, writable, C-contiguous ``uint8 [T, dim]`` array (one copy of the frame bytes), or None.
    """
    prefix = frame_prefix(int(dim))
    stride = len(prefix) + int(dim)
    if len(buf) % stride:
        return None
    rows = np.frombuffer(buf, dtype=np.uint8).reshape(len(buf) // stride, stride)
    if rows.shape[0] and not np.array_equal(rows[:, : len(prefix)],
                                            np.broadcast_to(np.frombuffer(prefix, np.uint8),
                                                            (rows.shape[0], len(prefix)))):
        return None
    return rows[:, len(prefix):].copy()  # always a copy: the view of a single row would be read-only


@functools.cache
def _wire_sequence_example_class() -> type:
    """``SequenceExample`` as ``{repeated bytes context = 1; WireFeatureLists feature_lists = 2}`` with
    ``WireFeatureLists {repeated Entry feature_list = 1}`` and ``Entry {string key = 1; repeated bytes value = 2}``.

    The field numbers are TF's example.proto (as in :mod:`.proto`). Fields that a message type would merge
    when repeated on the wire are declared ``repeated`` here, so that the decoder sees every occurrence and
    can apply the full parse's rules itself (map entries: the last one of a key wins) or decline. Built once
    in a private descriptor pool.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FieldDescriptorProto
    file_proto = descriptor_pb2.FileDescriptorProto(name=_PROTO_FILE, package="paddlevideo_wire",
                                                    syntax="proto3")
    entry = file_proto.message_type.add(name="WireFeatureListEntry")
    entry.field.add(name="key", number=1, type=fdp.TYPE_STRING, label=fdp.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=fdp.TYPE_BYTES, label=fdp.LABEL_REPEATED)
    lists = file_proto.message_type.add(name="WireFeatureLists")
    lists.field.add(name="feature_list", number=1, type=fdp.TYPE_MESSAGE, label=fdp.LABEL_REPEATED,
                    type_name=".paddlevideo_wire.WireFeatureListEntry")
    seq = file_proto.message_type.add(name="WireSequenceExample")
    seq.field.add(name="context", number=1, type=fdp.TYPE_BYTES, label=fdp.LABEL_REPEATED)
    seq.field.add(name="feature_lists", number=2, type=fdp.TYPE_MESSAGE, label=fdp.LABEL_OPTIONAL,
                  type_name=".paddlevideo_wire.WireFeatureLists")
    pool = descriptor_pool.DescriptorPool()
    file_desc = pool.Add(file_proto)
    if file_desc is None:  # older runtimes return None from Add()
        file_desc = pool.FindFileByName(_PROTO_FILE)
    return message_factory.GetMessageClass(file_desc.message_types_by_name["WireSequenceExample"])


class FrameWireDecoder:
    """Decode a frame-level record payload on the fast path, or return None to ask for the full parse.

    Args:
        id_key / feature_names / feature_dims / label_key: as :func:`.reader.frame_decoder`.

    Calling it with a serialized ``tensorflow.SequenceExample`` returns the same record dict as
    ``frame_decoder(...)(message)`` on the fully parsed message (``{"id": str, "labels": int64[L],
    <name>: uint8[T, dim]}``, arrays writable), when the record is valid and every wanted feature list
    is in the canonical layout; otherwise None (never raises for bad content: the caller's full parse
    reports it).
    """

    def __init__(self, id_key: str | None, feature_names: Sequence[str], feature_dims: Sequence[int],
                 label_key: str = "labels") -> None:
        self.id_key = id_key
        self.features = [(str(n), int(d)) for n, d in zip(feature_names, feature_dims)]
        self.label_key = label_key

    def __call__(self, payload: bytes) -> dict[str, Any] | None:
        from .reader import _decode_id, _decode_labels

        try:
            message = _wire_sequence_example_class().FromString(payload)
            if len(message.context) != 1:
                return None
            context = proto.features_class().FromString(message.context[0])
            record: dict[str, Any] = {"id": _decode_id(context, self.id_key),
                                      "labels": _decode_labels(context, self.label_key)}
            lists: dict[str, bytes] = {}
            for entry in message.feature_lists.feature_list:  # map semantics: the last entry of a key wins
                if len(entry.value) > 1:
                    return None
                lists[entry.key] = entry.value[0] if entry.value else b""
            frames = None
            for name, dim in self.features:
                if name not in lists:
                    return None
                arr = frames_from_wire(lists[name], dim)
                if arr is None or (frames is not None and arr.shape[0] != frames):
                    return None
                frames = arr.shape[0]
                record[name] = arr
            return record
        except Exception:  # any problem: the full parse finds and names it
            return None
