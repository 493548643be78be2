"""Write ``data/example.pkl``, the one-video input of ``tools/predict.py``, from the sample data.

    python data/yt8m/make_sample_data.py   # once: data/yt8m/sample/frame/sample_{train,validate}000N.tfrecord
    python data/yt8m/make_example_pkl.py        # -> data/example.pkl

The file has the layout of PaddleVideo's own ``data/example.pkl`` (docs/youtube8m_format.md#example-pkl): a single dict
(not a list) with BYTES keys ``b'video'`` (bytes id), ``b'feature'`` uint8[n, 1024],
``b'audio'`` uint8[n, 128], ``b'label'`` (sorted, de-duplicated list of int) and ``b'nframes'``
(numpy.int32 = min(n, 300)), pickled with protocol 2. The video is the first one (``--index 0``)
of ``data/yt8m/sample/frame/sample_validate0000.tfrecord``. The sample data is deterministic, so running this
again reproduces the committed file byte for byte (with the same numpy major version: numpy 2
pickles name ``numpy._core``, numpy 1.x ``numpy.core``).
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
from paddlevideo.loader.yt8m import CorruptRecordError, read_tfrecord  # noqa: E402
from paddlevideo.loader.yt8m.pkl import record_to_pkl_dict, write_pkl  # noqa: E402


def make_example(src: str, dst: str, index: int = 0) -> dict:
    """Write video ``index`` of the frame-level TFRecord ``src`` to ``dst`` as a bytes-keyed pkl.

    Returns:
        The dict written.

    Raises:
        FileNotFoundError: ``src`` is missing (with the command that makes it).
        IndexError: ``src`` has no video ``index``.
        CorruptRecordError: ``src`` is damaged.
    """
    if not os.path.isfile(src):
        raise FileNotFoundError(f"{src} not found; run: python data/yt8m/make_sample_data.py")
    record = next(itertools.islice(read_tfrecord(src, "frame"), index, None), None)
    if record is None:
        raise IndexError(f"{src} has no video {index}")
    video = record_to_pkl_dict(record, key_type=bytes)
    write_pkl(dst, video)
    return video


def main(argv=None) -> int:
    """Write ``data/example.pkl`` from the first video of ``--src``; returns the exit code."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", default=os.path.join(HERE, "sample", "frame", "sample_validate0000.tfrecord"))
    p.add_argument("--out", default=os.path.join(HERE, "..", "example.pkl"))
    p.add_argument("--index", type=int, default=0, help="which video of --src (0-based)")
    args = p.parse_args(argv)
    try:
        video = make_example(args.src, args.out, args.index)
    except (FileNotFoundError, IndexError, CorruptRecordError) as exc:
        print(f"make_example_pkl: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {os.path.normpath(args.out)}: video {video[b'video']!r}, {int(video[b'nframes'])} frames, "
          f"labels {video[b'label']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
