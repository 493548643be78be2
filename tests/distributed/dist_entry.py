"""Launch target of the 2-process test: train with --validate through the package API, then every rank
writes its own parameters and the final gathered metrics to ``<output_dir>/rank<R>.npz`` / ``.json``.

    python -m paddle.distributed.launch --nproc_per_node 2 tests/distributed/dist_entry.py CONFIG
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main(config: str) -> int:
    from paddlevideo.utils.quiet import quiet_paddle

    quiet_paddle()
    import numpy as np

    from paddlevideo.tasks.train import output_dir_of, seed_everything, train_model
    from paddlevideo.utils.config import load_config
    from paddlevideo.utils.dist import rank, set_device
    from paddlevideo.utils.logger import setup_logger

    cfg = load_config(config)
    setup_logger(output_dir_of(cfg), rank())
    set_device("cpu")
    seed_everything(1234 + rank())  # ranks seeded differently on purpose: DataParallel must sync them
    summary = train_model(cfg, validate=True)
    out = output_dir_of(cfg)
    params = {k: v.numpy() for k, v in summary["model"].state_dict().items()}
    np.savez(os.path.join(out, f"rank{rank()}.npz"), **params)
    with open(os.path.join(out, f"rank{rank()}.json"), "w") as f:
        json.dump(summary["last_metrics"], f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
