"""TensorFlow's ``Example`` / ``SequenceExample`` protobuf messages, built without protoc or TF.

The message layout follows TensorFlow's ``tensorflow/core/example/feature.proto`` and
``tensorflow/core/example/example.proto`` (package ``tensorflow``, proto3): the same message
names, field names and field numbers, ``packed`` ``Int64List``/``FloatList`` values, and the two
``map<string, ...>`` fields expressed the way protoc expresses them, as a repeated nested
``*Entry`` message with ``options.map_entry = true``. The field numbers are listed in
docs/youtube8m_format.md#frame-level-record.

The descriptor is built in Python as a ``descriptor_pb2.FileDescriptorProto``, added to a private
``descriptor_pool.DescriptorPool`` (so it never clashes with a real TensorFlow install that
registers the same names in the default pool) and turned into classes with
``message_factory.GetMessageClass``. Nothing happens at import time; the first call to one of
the ``*_class()`` functions builds everything once and caches it.
"""
from __future__ import annotations

import functools
from typing import Any

__all__ = [
    "PROTO_FILE_NAME",
    "bytes_list_class",
    "example_class",
    "feature_class",
    "feature_list_class",
    "feature_lists_class",
    "features_class",
    "float_list_class",
    "int64_list_class",
    "message_classes",
    "sequence_example_class",
]

#: Name under which the synthetic file descriptor is registered in the private pool.
PROTO_FILE_NAME = "paddlevideo/yt8m/tensorflow_example.proto"
_PACKAGE = "tensorflow"

def _build_file_proto() -> Any:
    """Return the ``FileDescriptorProto`` equivalent of TF's feature.proto + example.proto."""
    from google.protobuf import descriptor_pb2

    fdp = descriptor_pb2.FieldDescriptorProto
    file_proto = descriptor_pb2.FileDescriptorProto(
        name=PROTO_FILE_NAME, package=_PACKAGE, syntax="proto3"
    )

    def add_field(msg, name, number, ftype, label, type_name=None, oneof_index=None, packed=False):
        field = msg.field.add(name=name, number=number, type=ftype, label=label)
        if type_name is not None:
            field.type_name = f".{_PACKAGE}.{type_name}"
        if oneof_index is not None:
            field.oneof_index = oneof_index
        if packed:
            field.options.packed = True
        return field

    repeated = fdp.LABEL_REPEATED
    optional = fdp.LABEL_OPTIONAL

    # message BytesList { repeated bytes value = 1; }
    msg = file_proto.message_type.add(name="BytesList")
    add_field(msg, "value", 1, fdp.TYPE_BYTES, repeated)

    # message FloatList { repeated float value = 1 [packed = true]; }
    msg = file_proto.message_type.add(name="FloatList")
    add_field(msg, "value", 1, fdp.TYPE_FLOAT, repeated, packed=True)

    # message Int64List { repeated int64 value = 1 [packed = true]; }
    msg = file_proto.message_type.add(name="Int64List")
    add_field(msg, "value", 1, fdp.TYPE_INT64, repeated, packed=True)

    # message Feature { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
    #                                Int64List int64_list = 3; } }
    msg = file_proto.message_type.add(name="Feature")
    msg.oneof_decl.add(name="kind")
    add_field(msg, "bytes_list", 1, fdp.TYPE_MESSAGE, optional, "BytesList", oneof_index=0)
    add_field(msg, "float_list", 2, fdp.TYPE_MESSAGE, optional, "FloatList", oneof_index=0)
    add_field(msg, "int64_list", 3, fdp.TYPE_MESSAGE, optional, "Int64List", oneof_index=0)

    def add_map(msg, field_name, entry_name, value_type):
        entry = msg.nested_type.add(name=entry_name)
        entry.options.map_entry = True
        add_field(entry, "key", 1, fdp.TYPE_STRING, optional)
        add_field(entry, "value", 2, fdp.TYPE_MESSAGE, optional, value_type)
        add_field(msg, field_name, 1, fdp.TYPE_MESSAGE, repeated, f"{msg.name}.{entry_name}")

    # message Features { map<string, Feature> feature = 1; }
    msg = file_proto.message_type.add(name="Features")
    add_map(msg, "feature", "FeatureEntry", "Feature")

    # message FeatureList { repeated Feature feature = 1; }
    msg = file_proto.message_type.add(name="FeatureList")
    add_field(msg, "feature", 1, fdp.TYPE_MESSAGE, repeated, "Feature")

    # message FeatureLists { map<string, FeatureList> feature_list = 1; }
    msg = file_proto.message_type.add(name="FeatureLists")
    add_map(msg, "feature_list", "FeatureListEntry", "FeatureList")

    # message Example { Features features = 1; }
    msg = file_proto.message_type.add(name="Example")
    add_field(msg, "features", 1, fdp.TYPE_MESSAGE, optional, "Features")

    # message SequenceExample { Features context = 1; FeatureLists feature_lists = 2; }
    msg = file_proto.message_type.add(name="SequenceExample")
    add_field(msg, "context", 1, fdp.TYPE_MESSAGE, optional, "Features")
    add_field(msg, "feature_lists", 2, fdp.TYPE_MESSAGE, optional, "FeatureLists")
    return file_proto


@functools.cache
def message_classes() -> dict[str, type]:
    """Build (once) and return all nine message classes, keyed by their short name.

    Returns:
        ``{"BytesList": cls, "FloatList": cls, "Int64List": cls, "Feature": cls,
        "Features": cls, "FeatureList": cls, "FeatureLists": cls, "Example": cls,
        "SequenceExample": cls}``; each ``cls`` is a ``google.protobuf.message.Message``
        subclass whose wire format is TensorFlow's ``tensorflow.<name>``.

    Raises:
        TypeError: from protobuf, only if the descriptor above were malformed.

    Source: field names/numbers of TF's feature.proto and example.proto; docs/youtube8m_format.md#frame-level-record.
    """
    from google.protobuf import descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    file_desc = pool.Add(_build_file_proto())
    if file_desc is None:  # older runtimes return None from Add(); look the file up instead
        file_desc = pool.FindFileByName(PROTO_FILE_NAME)
    return {
        name: message_factory.GetMessageClass(desc)
        for name, desc in file_desc.message_types_by_name.items()
    }


def sequence_example_class() -> type:
    """Return the ``tensorflow.SequenceExample`` class (frame-level YouTube-8M records, §1.2)."""
    return message_classes()["SequenceExample"]


def example_class() -> type:
    """Return the ``tensorflow.Example`` class.

    Video-level YouTube-8M records, docs/youtube8m_format.md#video-level-record.
    """
    return message_classes()["Example"]


def features_class() -> type:
    """Return the ``tensorflow.Features`` class (``map<string, Feature> feature = 1``)."""
    return message_classes()["Features"]


def feature_class() -> type:
    """Return the ``tensorflow.Feature`` class (oneof ``bytes_list=1``/``float_list=2``/``int64_list=3``)."""
    return message_classes()["Feature"]


def feature_list_class() -> type:
    """Return the ``tensorflow.FeatureList`` class (``repeated Feature feature = 1``)."""
    return message_classes()["FeatureList"]


def feature_lists_class() -> type:
    """Return the ``tensorflow.FeatureLists`` class (``map<string, FeatureList> feature_list = 1``)."""
    return message_classes()["FeatureLists"]


def bytes_list_class() -> type:
    """Return the ``tensorflow.BytesList`` class (``repeated bytes value = 1``)."""
    return message_classes()["BytesList"]


def float_list_class() -> type:
    """Return the ``tensorflow.FloatList`` class (``repeated float value = 1 [packed]``)."""
    return message_classes()["FloatList"]


def int64_list_class() -> type:
    """Return the ``tensorflow.Int64List`` class (``repeated int64 value = 1 [packed]``)."""
    return message_classes()["Int64List"]


def parse_payload(message_class: type, payload: bytes, *, path: str, index: int, offset: int) -> Any:
    """Parse one TFRecord payload into a new ``message_class`` message (e.g. :func:`sequence_example_class`).

    Args:
        message_class: the protobuf message class to parse into.
        payload: the record's bytes (already checked against its CRCs by the TFRecord framing).
        path, index, offset: where the record lies (file, record number from 0, byte offset), for the error.

    Returns:
        The parsed message.

    Raises:
        CorruptRecordError: the bytes are not a valid message of that type; the message names the file, the
            record, its offset and the type (``payload is not a valid tensorflow.SequenceExample protobuf``).
    """
    from google.protobuf.message import DecodeError

    from .errors import CorruptRecordError

    message = message_class()
    try:
        message.ParseFromString(payload)
    except DecodeError as e:
        raise CorruptRecordError(path, index, offset, f"payload is not a valid tensorflow."
                                 f"{message_class.DESCRIPTOR.name} protobuf ({e})") from None
    return message
