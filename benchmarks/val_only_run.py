"""Train a config and print its per-epoch history: loss, validation metric, learned-embedding
spread. Validation only: nothing is evaluated on the test classes (choose recipes with this).

Run:  nice python benchmarks/val_only_run.py configs/demo.yaml NAME --set data.val_classes=2 ...
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("name")
    ap.add_argument("--set", action="append", default=[], dest="sets")
    args = ap.parse_args()
    cfg = apply_overrides(load_config(args.config), args.sets)
    data = load_run_data(cfg.data)
    print(
        f"{args.name}: training classes {sorted(set(data.train_y.tolist()))}, "
        f"validation classes {sorted(set(data.val_y.tolist()))} ({len(data.val_y)} images)",
        flush=True,
    )
    torch.manual_seed(cfg.train.seed)
    net = build_model(cfg.model, data.input_shape, *data.channel_stats())
    t0 = time.time()
    log = lambda line: print("  ", line, flush=True)  # noqa: E731
    result = Trainer.from_config(net, cfg, data, progress=False, log=log).fit()
    rows = [
        {k: round(v, 5) if isinstance(v, float) else v for k, v in h.items()}
        for h in result.history
    ]
    print(args.name, json.dumps({"seconds": round(time.time() - t0), "history": rows}), flush=True)


if __name__ == "__main__":
    main()
