"""Segment ratings of 2019 segment-rated records, against what TensorFlow parsed from the same file.

The fixture ``tests/data/segment/validate0000.tfrecord`` was written by TensorFlow; its sidecar
``validate0000.expected.npz`` holds what ``tf.io.parse_single_sequence_example`` read back
(``segment_*_flat`` + ``segment_offsets``), see ``tests/data/segment/README.md``. Broken records are written
here with :func:`encode_segment_example`, and each error's whole message is compared.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from paddlevideo.loader.yt8m import CorruptRecordError, DataError, proto
from paddlevideo.loader.yt8m.reader import read_tfrecord
from paddlevideo.loader.yt8m.segments import (
    SegmentLabelError,
    SegmentRatings,
    encode_segment_example,
    iter_segment_ratings,
    parse_segment_ratings,
    segment_examples,
    segment_matrix,
)
from paddlevideo.loader.yt8m.tfrecord import FOOTER_SIZE, HEADER_SIZE, iter_records, write_records

DATA = Path(__file__).resolve().parents[1] / "data" / "segment"
FIXTURE = DATA / "validate0000.tfrecord"


def expected():
    return np.load(DATA / "validate0000.expected.npz")


def test_ratings_match_tensorflow_in_file_order():
    z = expected()
    ratings = list(iter_segment_ratings(FIXTURE, num_classes=3862))
    assert [r.video_id.encode() for r in ratings] == list(z["ids"])
    off = z["segment_offsets"]
    for i, r in enumerate(ratings):
        lo, hi = off[i], off[i + 1]
        assert r.start_times.dtype == np.int64 and r.classes.dtype == np.int64 and r.scores.dtype == np.float32
        np.testing.assert_array_equal(r.start_times, z["segment_start_times_flat"][lo:hi])
        np.testing.assert_array_equal(r.classes, z["segment_labels_flat"][lo:hi])
        np.testing.assert_array_equal(r.scores, z["segment_scores_flat"][lo:hi])
        assert len(r) == hi - lo
        if z["segment_keys_present"][i]:
            np.testing.assert_array_equal(r.end_times, z["segment_end_times_flat"][lo:hi])
        else:
            assert r.end_times is None


def test_unique_starts_are_in_first_occurrence_order_as_the_reader_examples():
    z = expected()
    ratings = list(iter_segment_ratings(FIXTURE))
    for i, r in enumerate(ratings):
        starts, seg = r.unique_starts()
        lo, hi = z["example_offsets"][i], z["example_offsets"][i + 1]
        np.testing.assert_array_equal(starts, z["example_start"][lo:hi])
        plo, phi = z["segment_offsets"][i], z["segment_offsets"][i + 1]
        np.testing.assert_array_equal(seg + lo, z["pair_example"][plo:phi])


def test_encoder_reproduces_tensorflow_bytes():
    records = list(read_tfrecord(FIXTURE))
    payloads = [p for _, _, p in iter_records(FIXTURE)]
    z = expected()
    for i, (rec, r, payload) in enumerate(zip(records, iter_segment_ratings(FIXTURE), payloads)):
        if not z["segment_keys_present"][i]:
            continue
        again = encode_segment_example(rec["id"], rec["labels"], {"rgb": rec["rgb"], "audio": rec["audio"]},
                                       r.start_times, r.classes, r.scores, r.end_times)
        assert again == payload


def _write(tmp_path, records):
    """Write segment records (dict kwargs of encode_segment_example, or raw payload bytes) and return the
    path and each record's byte offset."""
    frames = {"rgb": np.zeros((10, 1024), np.uint8), "audio": np.zeros((10, 128), np.uint8)}
    payloads = [r if isinstance(r, bytes) else
                encode_segment_example(r.pop("video_id", "vid0"), [1], frames, **r) for r in records]
    path = tmp_path / "seg.tfrecord"
    write_records(path, payloads)
    offsets = np.cumsum([0] + [HEADER_SIZE + len(p) + FOOTER_SIZE for p in payloads])[:-1]
    return path, [int(o) for o in offsets]


GOOD = {"start_times": [0, 5], "classes": [3, 4], "scores": [1.0, 0.0], "end_times": [5, 10]}

BAD = [
    ({"start_times": [0, 5, 10], "classes": [3, 4], "scores": [1.0, 0.0]},
     "segment_start_times: has 3 values but segment_labels has 2; the segment lists must be parallel "
     "(one position per rated segment and class)"),
    ({"start_times": [0, 5], "classes": [3, 4], "scores": [1.0]},
     "segment_scores: has 1 values but segment_labels has 2; the segment lists must be parallel "
     "(one position per rated segment and class)"),
    ({"start_times": [0, 5], "classes": [3, 4], "scores": [1.0, 1.0], "end_times": [5]},
     "segment_end_times: has 1 values but segment_labels has 2; the segment lists must be parallel "
     "(one position per rated segment and class)"),
    ({"start_times": [0, -5], "classes": [3, 4], "scores": [1.0, 0.0]},
     "segment_start_times: start time -5 at position 1 is negative"),
    ({"start_times": [0, 5, 0], "classes": [3, 4, 3], "scores": [1.0, 0.0, 0.0]},
     "segment_labels: (start time 0, class 3) is rated twice, at positions 0 and 2"),
    ({"start_times": [0, 5], "classes": [3, 100], "scores": [1.0, 0.0]},
     "segment_labels: class 100 at position 1 is outside [0, 100) (num_classes=100)"),
    ({"start_times": [0, 5], "classes": [-1, 4], "scores": [1.0, 0.0]},
     "segment_labels: class -1 at position 0 is outside [0, 100) (num_classes=100)"),
    ({"start_times": [0, 5], "classes": [3, 4], "scores": [1.0, float("nan")]},
     "segment_scores: score nan at position 1 is not finite"),
    ({"start_times": [0, 5], "classes": [3, 4], "scores": None},
     "segment_scores: is missing while segment_labels, segment_start_times are present (a segment-rated "
     "record has all of segment_labels, segment_start_times, segment_scores)"),
]


@pytest.mark.parametrize("bad,reason", BAD, ids=[b[1].split(":")[0] + str(i) for i, b in enumerate(BAD)])
def test_each_schema_error_names_file_record_offset_and_key(tmp_path, bad, reason):
    path, offsets = _write(tmp_path, [dict(GOOD), dict(bad)])
    it = iter_segment_ratings(path, num_classes=100)
    assert len(next(it)) == 2
    with pytest.raises(SegmentLabelError) as info:
        next(it)
    err = info.value
    assert str(err) == f"{path}: record 1 at byte {offsets[1]}: {reason}"
    assert (err.path, err.index, err.offset, err.key) == (str(path), 1, offsets[1], reason.split(":")[0])
    assert isinstance(err, CorruptRecordError) and isinstance(err, DataError)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is SegmentLabelError and str(back) == str(err) and back.key == err.key


def _raw_record(context: dict) -> bytes:
    """A SequenceExample with id 'raw0', one frame, and context features given as {key: (kind, values)}."""
    msg = proto.sequence_example_class()()
    msg.context.feature["id"].bytes_list.value.append(b"raw0")
    for key, (kind, values) in context.items():
        getattr(msg.context.feature[key], kind).value.extend(values)
    for name, dim in (("rgb", 1024), ("audio", 128)):
        msg.feature_lists.feature_list[name].feature.add().bytes_list.value.append(bytes(dim))
    return msg.SerializeToString(deterministic=True)


def test_wrong_kind_of_list_is_named(tmp_path):
    payload = _raw_record({"segment_labels": ("int64_list", [3]), "segment_start_times": ("float_list", [0.0]),
                           "segment_scores": ("float_list", [1.0])})
    path, offsets = _write(tmp_path, [payload])
    with pytest.raises(SegmentLabelError) as info:
        list(iter_segment_ratings(path))
    assert str(info.value) == (f"{path}: record 0 at byte {offsets[0]}: segment_start_times: must be int64_list, "
                               "found float_list")


def test_end_times_may_be_float_and_are_not_interpreted(tmp_path):
    payload = _raw_record({"segment_labels": ("int64_list", [3, 4]), "segment_start_times": ("int64_list", [0, 5]),
                           "segment_scores": ("float_list", [1.0, 0.0]),
                           "segment_end_times": ("float_list", [5.0, 10.0])})
    path, _ = _write(tmp_path, [payload])
    (r,) = iter_segment_ratings(path)
    assert r.end_times.dtype == np.float32 and r.end_times.tolist() == [5.0, 10.0]
    assert r.video_id == "raw0" and r.start_times.tolist() == [0, 5]


def test_parse_accepts_context_or_example_and_no_keys_means_no_ratings():
    msg = proto.sequence_example_class()()
    msg.ParseFromString(_raw_record({}))
    for obj in (msg, msg.context):
        r = parse_segment_ratings(obj, path="x.tfrecord", record=7)
        assert (r.video_id, len(r), r.end_times) == ("raw0", 0, None)
    msg.ParseFromString(_raw_record({"segment_labels": ("int64_list", [2000])}))
    with pytest.raises(SegmentLabelError) as info:
        parse_segment_ratings(msg, path="x.tfrecord", record=7, num_classes=3862)
    assert str(info.value) == ("x.tfrecord: record 7: segment_start_times: is missing while segment_labels is "
                               "present (a segment-rated record has all of segment_labels, segment_start_times, "
                               "segment_scores)")


def test_missing_id_is_a_segment_error():
    msg = proto.sequence_example_class()()
    msg.context.feature["segment_labels"].int64_list.value.append(1)
    with pytest.raises(SegmentLabelError) as info:
        parse_segment_ratings(msg, path="x.tfrecord", record=0)
    assert str(info.value) == ("x.tfrecord: record 0: id: missing id: no context feature 'id' or 'video_id' "
                               "(found ['segment_labels'])")


def test_examples_match_the_starter_reader_byte_for_byte():
    z = expected()
    records = list(read_tfrecord(FIXTURE))
    ratings = list(iter_segment_ratings(FIXTURE, num_classes=3862))
    got, skipped = [], []
    for i, (rec, r) in enumerate(zip(records, ratings)):
        examples, skip = segment_examples(rec, r, num_classes=3862)
        got += [(i, e) for e in examples]
        skipped += [(i, s) for s in skip]
    # The starter's rows: every unique start; the one with no real frame (video 4, start 65) is skipped here.
    empty = np.flatnonzero(z["example_valid_frames"] == 0)
    assert skipped == [(int(z["example_video"][k]), int(z["example_start"][k])) for k in empty] == [(4, 65)]
    kept = np.flatnonzero(z["example_valid_frames"] > 0)
    assert len(got) == len(kept) == 9
    for (i, e), k in zip(got, kept):
        assert i == z["example_video"][k] and e["segment_start"] == z["example_start"][k]
        assert e["id"].encode() == z["ids"][i]
        assert len(e["rgb"]) == len(e["audio"]) == z["example_valid_frames"][k]
        m = segment_matrix(e)
        assert m.dtype == np.float32 and m.tobytes() == z["example_matrix"][k].tobytes()
        assert e["labels"].dtype == np.float32 and e["labels"].tobytes() == z["example_labels"][k].tobytes()
        assert e["label_weights"].tobytes() == z["example_label_weights"][k].tobytes()


def test_windows_stop_at_max_frames_and_later_starts_are_skipped():
    rec = {"id": "v", "rgb": np.arange(302 * 4, dtype=np.int64).astype(np.uint8).reshape(302, 4),
           "audio": np.zeros((302, 2), np.uint8)}
    r = SegmentRatings("v", np.array([297, 300, 301, 0]), np.array([1, 1, 2, 2]), np.array([1, 0, 1, 0], np.float32))
    examples, skipped = segment_examples(rec, r, num_classes=3, feature_names=("rgb", "audio"))
    assert skipped == [300, 301]
    assert [int(e["segment_start"]) for e in examples] == [297, 0]
    np.testing.assert_array_equal(examples[0]["rgb"], rec["rgb"][297:300])   # 3 real frames before row 300
    assert examples[0]["labels"].tolist() == [0, 1, 0] and examples[0]["label_weights"].tolist() == [0, 1, 0]
    assert examples[1]["labels"].tolist() == [0, 0, 0] and examples[1]["label_weights"].tolist() == [0, 0, 1]
