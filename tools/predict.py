"""Predict YouTube-8M videos with an exported model on Paddle Inference.

    python tools/predict.py --input_file data/example.pkl \
        --config configs/recognition/attention_lstm/attention_lstm_youtube8m.yaml \
        --model_file inference/AttentionLSTM/AttentionLSTM.json \
        --params_file inference/AttentionLSTM/AttentionLSTM.pdiparams --use_gpu=False --use_tensorrt=False
    python tools/predict.py --input_file 'data/yt8m/frame/validate*.tfrecord' --model_file M.json \
        --params_file M.pdiparams --batch_size 32 --top_k 20 --label_file vocabulary.csv --output preds.json

``--input_file``: a PaddleVideo pkl, a TFRecord, a list file (.list/.txt), a directory or a glob.
Scores are per-class sigmoid probabilities (PaddleVideo's predict applied softmax, which is wrong for
multi-label YouTube-8M). ``--model_file`` defaults to ``inference/<model_name>/<model_name>.json`` of ``--config``.

Without ``--output`` each video's result is printed; with it the results go to the JSON file as they are
predicted and only a summary line is printed. Inputs that cannot be predicted (a corrupt or unreadable
file, a symlink loop, a wrong format, a video without frames) are skipped with a ``warning: skipped ...``
line each; the others are predicted. Exit code: 0 when every input was predicted; 2 when something was
skipped (the last line, ``error: skipped N inputs (...)``, names them; the JSON lists them under
``"skipped"``) or for a mistake (one ``error:`` line, e.g. an ``--output`` that cannot be written, which is
checked before anything is predicted).

Segment mode (the 2019 temporal-localisation challenge, ``docs/segment_metric.md``):

    python tools/predict.py --segments --input_file 'data/yt8m/3/frame/test*.tfrecord' --model_file M.json \
        --segment_label_ids segment_label_ids.csv --batch_size 256 --output submission.csv

scores every 5-frame window of each video (starts 0, 5, ... below ``min(frames, 300)``), keeps the classes of
``--segment_label_ids`` (Google's ``segment_label_ids.csv``, given by path; ``all`` keeps every class), lets a
window enter a class only if the class is among its ``--top_k`` (20) scores, keeps the ``--segment_max_pred``
(100000) best windows per class, and writes the Kaggle CSV ``Class,Segments`` to ``--output``. Memory stays
bounded whatever the number of videos. ``--batch_size`` counts windows here.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from paddlevideo.inference.cli import str2bool  # noqa: E402  (imports nothing heavy)

if TYPE_CHECKING:
    from paddlevideo.inference.predictor import Predictor


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (PaddleVideo's flags, ``--use_gpu=False`` style booleans; see ``--help``)."""
    p = argparse.ArgumentParser(description="Predict YouTube-8M videos with an exported model (Paddle Inference).")
    p.add_argument("-i", "--input_file", required=True, help="pkl, tfrecord, list file, directory or glob")
    p.add_argument("-c", "--config", default=None, help="the model's YAML config (for the default model path)")
    p.add_argument("--model_file", default=None, help="exported <prefix>.json")
    p.add_argument("--params_file", default=None, help="exported <prefix>.pdiparams (default: next to --model_file)")
    b = dict(type=str2bool, nargs="?", const=True, metavar="BOOL")
    p.add_argument("--use_gpu", default=None, help="run on GPU (default: when PaddlePaddle is a GPU build)", **b)
    p.add_argument("--gpu_id", type=int, default=0, help="GPU index")
    p.add_argument("--gpu_mem", type=int, default=8000, help="initial GPU memory pool, MB")
    p.add_argument("--use_tensorrt", default=False, help="run supported subgraphs with TensorRT", **b)
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"], help="inference precision")
    p.add_argument("--enable_mkldnn", default=False, help="use oneDNN kernels on CPU", **b)
    p.add_argument("--cpu_threads", type=int, default=1, help="math-library threads on CPU")
    p.add_argument("--batch_size", type=int, default=1, help="videos per batch (padded to the longest)")
    p.add_argument("--max_frames", type=int, default=None, help="frames kept per video (default: from export)")
    p.add_argument("--top_k", type=int, default=None,
                   help="classes reported per video (default 5); with --segments, classes a window can enter (20)")
    p.add_argument("--label_file", default=None, help="YouTube-8M vocabulary.csv (columns Index, Name)")
    p.add_argument("--enable_benchmark", default=False, help="warm up, then report per-stage timings", **b)
    p.add_argument("--output", default=None,
                   help="write all results (and timings) to this JSON file, filled while predicting; the per-video "
                        "lines are then not printed (see --print_results)")
    p.add_argument("--print_results", default=None,
                   help="print each video's result (default: only without --output)", **b)
    p.add_argument("--segments", default=False, help="segment mode: score 5-frame windows, write the Kaggle CSV "
                   "(Class,Segments) to --output", **b)
    p.add_argument("--segment_label_ids", default=None,
                   help="with --segments: the segment vocabulary csv (segment_label_ids.csv), or 'all'")
    p.add_argument("--segment_max_pred", type=int, default=100_000,
                   help="with --segments: windows kept per class (K, default 100000)")
    p.add_argument("--verbose", action="store_true", help="keep Paddle's log lines; print tracebacks")
    return p.parse_args(argv)



def _predictor(args: argparse.Namespace, model_file: str, params_file: str, meta: dict,
               max_frames: int) -> Predictor:
    """The Paddle Inference predictor from the command-line options (device, TensorRT, precision, threads),
    sized for ``--batch_size`` videos of at most ``max_frames`` frames."""
    import paddle

    from paddlevideo.inference.predictor import InferenceOptions, Predictor

    use_gpu = paddle.is_compiled_with_cuda() if args.use_gpu is None else args.use_gpu
    options = InferenceOptions(use_gpu=use_gpu, gpu_mem=args.gpu_mem, gpu_id=args.gpu_id,
                               use_tensorrt=args.use_tensorrt, precision=args.precision,
                               enable_mkldnn=args.enable_mkldnn, cpu_threads=args.cpu_threads,
                               max_batch_size=args.batch_size, max_frames=max_frames, verbose=args.verbose)
    return Predictor(model_file, params_file, options, meta)

def _paths(args: argparse.Namespace):
    model_file = args.model_file
    if model_file is None:
        if args.config is None:
            raise ValueError("give --model_file (or --config to use inference/<model_name>/<model_name>.json)")
        from paddlevideo.utils.config import load_config

        name = load_config(args.config)["model_name"]
        model_file = os.path.join("inference", name, name + ".json")
    params_file = args.params_file or os.path.splitext(model_file)[0] + ".pdiparams"
    return model_file, params_file


def _summary(done: int, skipped, output) -> str:
    """The run's last line: videos predicted, inputs skipped (named, up to 5), where the results are."""
    where = f"; results in {output}" if output else ""
    if not skipped:
        return f"predicted {done} video{'s' if done != 1 else ''}, skipped 0{where}"
    names = ", ".join(s.short() for s in skipped[:5])
    more = ""
    if len(skipped) > 5:
        more = f" and {len(skipped) - 5} more" + (' (all listed under "skipped" in the output)' if output else "")
    return (f"error: skipped {len(skipped)} input{'s' if len(skipped) != 1 else ''} ({names}{more}); "
            f"predicted {done} video{'s' if done != 1 else ''}{where}")


def _predict(args: argparse.Namespace) -> int:
    if args.segments:
        return _predict_segments(args)
    if args.top_k is None:
        args.top_k = 5

    from paddlevideo.inference.export import read_inference_meta
    from paddlevideo.inference.inputs import Skipped, iter_input_items
    from paddlevideo.inference.results import load_label_names
    from paddlevideo.inference.results_file import ResultsFile
    from paddlevideo.inference.runner import StageTimer, predict_stream
    from paddlevideo.loader.pipelines import Compose

    if args.batch_size < 1 or args.top_k < 1 or args.cpu_threads < 1:
        raise ValueError("--batch_size, --top_k and --cpu_threads must be >= 1")
    model_file, params_file = _paths(args)
    meta = read_inference_meta(model_file)
    if args.config is not None:
        from paddlevideo.utils.config import load_config

        name = load_config(args.config)["model_name"]
        if name != meta["model_name"]:
            print(f"warning: --config is model {name!r} but {model_file} was exported from {meta['model_name']!r}; "
                  "using the exported description", file=sys.stderr)
    max_frames = args.max_frames or int(meta["max_frames"])
    predictor = _predictor(args, model_file, params_file, meta, max_frames)
    labels = load_label_names(args.label_file) if args.label_file else None
    timer = StageTimer()
    items = iter_input_items(args.input_file, meta["feature_names"], meta["feature_dims"])
    print_results = args.print_results if args.print_results is not None else not args.output
    from tqdm import tqdm

    # the exported model's own preprocessing (e.g. frame sampling), then --max_frames if given
    steps = list(meta.get("pipeline") or [{"name": "TruncateFrames", "max_frames": max_frames}])
    if args.max_frames:
        steps.insert(0, {"name": "TruncateFrames", "max_frames": args.max_frames})
    skipped = []

    def videos():
        """The readable videos; every skipped input is reported on stderr at once and kept for the summary."""
        for item in items:
            if isinstance(item, Skipped):
                skipped.append(item)
                tqdm.write(f"warning: skipped {item.reason}", file=sys.stderr)
            else:
                yield item.file, item.record

    # --output is created (or refused) before anything is predicted, and filled as results come
    out = ResultsFile(args.output, {"model_file": model_file, "input": args.input_file,
                                    "scores": "sigmoid probabilities"}) if args.output else None
    done, complete = 0, False
    try:
        stream = predict_stream(videos(), predictor.run, batch_size=args.batch_size, max_frames=max_frames,
                                k=args.top_k, label_names=labels, warmup=3 if args.enable_benchmark else 0,
                                timer=timer, pipeline=Compose(steps))
        # a progress bar on stderr only when it is a terminal (disable=None); tqdm.write keeps lines intact
        for text, entry in tqdm(stream, desc="predict", unit="video", leave=False, disable=None):
            if print_results:
                tqdm.write(text)
            if out is not None:
                out.add(entry)
            done += 1
        complete = True
    finally:
        # always close the file: what was predicted stays, marked incomplete when the run stopped early
        if out is not None:
            tail = {"skipped": [{"file": s.file, "index": s.index, "reason": s.reason} for s in skipped],
                    "timing": timer.summary()}
            if complete:
                out.close(tail)
            else:
                try:
                    out.close(tail, complete=False)     # a no-op when a write error already closed it
                except OSError:
                    pass
    summary = timer.summary()
    if args.enable_benchmark:
        ms = summary["ms_per_video"]
        print(f"benchmark: {summary['videos']} videos in {summary['batches']} batches of up to {args.batch_size}; "
              f"ms per video: preprocess {ms['preprocess']:.2f}, inference {ms['inference']:.2f}, "
              f"postprocess {ms['postprocess']:.2f} (after 3 warm-up runs)")
    line = _summary(done, skipped, args.output)
    if skipped:
        print(line, file=sys.stderr)
        return 2
    print(line)
    return 0


def _check_writable(path: str) -> None:
    """Refuse an ``--output`` that cannot be written, before anything is predicted (creates its directory)."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(21, "is a directory", path)
    os.makedirs(directory, exist_ok=True)
    probe = os.path.join(directory, f".{os.path.basename(path)}.probe-{os.getpid()}")
    with open(probe, "w"):
        pass
    os.unlink(probe)


def _predict_segments(args: argparse.Namespace) -> int:
    """Segment mode: every 5-frame window scored, the Kaggle CSV written to ``--output``."""
    from tqdm import tqdm

    from paddlevideo.inference.export import read_inference_meta
    from paddlevideo.inference.inputs import Skipped, iter_input_items
    from paddlevideo.inference.runner import StageTimer
    from paddlevideo.inference.segment_predict import predict_segments
    from paddlevideo.inference.segment_submission import SegmentSubmissionWriter
    from paddlevideo.metrics.segment_map import load_segment_label_ids

    top_k = 20 if args.top_k is None else args.top_k
    if args.batch_size < 1 or top_k < 1 or args.cpu_threads < 1 or args.segment_max_pred < 1:
        raise ValueError("--batch_size, --top_k, --cpu_threads and --segment_max_pred must be >= 1")
    if not args.output:
        raise ValueError("--segments needs --output SUBMISSION.csv")
    if not args.segment_label_ids:
        raise ValueError("--segments needs --segment_label_ids: the path of segment_label_ids.csv (Google's "
                         "segment vocabulary), or 'all' to keep every class")
    model_file, params_file = _paths(args)
    meta = read_inference_meta(model_file)
    num_classes = int(meta["num_classes"])
    classes = None if args.segment_label_ids == "all" else load_segment_label_ids(args.segment_label_ids, num_classes)
    _check_writable(args.output)
    segment_size, max_frames = 5, args.max_frames or 300
    predictor = _predictor(args, model_file, params_file, meta, segment_size)
    writer = SegmentSubmissionWriter(num_classes, top_k=args.segment_max_pred, per_segment_top_k=top_k,
                                     classes=classes)
    skipped = []
    bar = tqdm(desc="predict", unit="video", leave=False, disable=None)

    def videos():
        for item in iter_input_items(args.input_file, meta["feature_names"], meta["feature_dims"]):
            if isinstance(item, Skipped):
                skipped.append(item)
                tqdm.write(f"warning: skipped {item.reason}", file=sys.stderr)
            else:
                yield item.record

    timer = StageTimer()
    try:
        counts = predict_segments(videos(), predictor.run, writer, batch_size=args.batch_size,
                                  segment_size=segment_size, max_frames=max_frames, timer=timer,
                                  on_video=lambda _: bar.update(1))
    finally:
        bar.close()
    written = writer.write(args.output)
    if args.enable_benchmark:
        sec = timer.seconds
        print(f"benchmark: {counts['windows']} windows in {timer.batches} batches of up to {args.batch_size}; "
              f"{counts['windows'] / max(sum(sec.values()), 1e-9):.1f} windows/s "
              f"(preprocess {sec['preprocess']:.2f} s, "
              f"inference {sec['inference']:.2f} s, ranking {sec['postprocess']:.2f} s)")
    line = (f"scored {counts['windows']} windows of {counts['videos']} videos; wrote {written['rows']} class rows, "
            f"{written['entries']} entries to {args.output}")
    if skipped:
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        names = ", ".join(x.short() for x in skipped[:5]) + more
        print(f"error: skipped {len(skipped)} input{'s' if len(skipped) != 1 else ''} ({names}); {line}",
              file=sys.stderr)
        return 2
    print(line)
    return 0


def main(argv=None) -> int:
    """Predict every video of ``--input_file`` with the exported model; returns the exit code (2 for a user
    mistake, with one ``error:`` line)."""
    args = parse_args(argv)
    from paddlevideo.utils.quiet import quiet_paddle

    quiet_paddle(args.verbose)
    from paddlevideo.inference.cli import run_tool

    return run_tool(_predict, args)


if __name__ == "__main__":
    sys.exit(main())
