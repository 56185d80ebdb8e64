"""``siamkit recommend`` on a text folder saved before stop 55 (its ``siamkit.json`` and its
gallery record the former fingerprint formula, which kept the transformer config's keys at a
value that changes nothing): does the no-build check answer, or is the model built?

all-MiniLM-L6-v2 (the default text model) is saved as a folder, its fingerprint rewritten to
the former formula's (``former_fingerprints()[1]``, as the folder was saved then), and a 6-text
gallery enrolled and recorded under it; ``siamkit recommend MODEL --gallery g.db --like item-0
--k 3`` is then timed in a fresh process ``--runs`` times. ``--before-src DIR`` times the same
command run from another source tree too (``PYTHONPATH=DIR``), alternating with this one's runs
so that both see the same load; the output's digest shows the answers agree.

    nice python benchmarks/bench_recommend_former.py --runs 5
    nice python benchmarks/bench_recommend_former.py --runs 5 --before-src /tmp/old_src
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before-src", default=None, help="another tree's src, to compare")
    args = parser.parse_args()

    import siamkit
    from siamkit.applications.text import TextSiameseNetwork
    from siamkit.cli.recommend_cmd import _bundle_made_gallery
    from siamkit.encoders.text import default_text_model_path
    from siamkit.index import Gallery, GalleryStore

    with tempfile.TemporaryDirectory() as tmp:
        net = TextSiameseNetwork.pretrained(default_text_model_path()).eval()
        model = siamkit.save_model(net, Path(tmp) / "model")
        former = net.former_fingerprints()[1]  # the formula before stop 55's
        doc = json.loads((model / "siamkit.json").read_text())
        doc["fingerprint"] = former
        (model / "siamkit.json").write_text(json.dumps(doc))
        gallery = Path(tmp) / "g.db"
        texts = ["red shoe", "blue shoe", "green tea", "black tea", "a guitar", "a piano"]
        with Gallery.open(gallery, net) as g:
            for i, text in enumerate(texts):
                g.enroll(f"item-{i}", [text])
        with GalleryStore(gallery, create=False) as store:
            store.set_meta("model_fingerprint", former)
        shortcut = _bundle_made_gallery(str(model), str(gallery))
        command = [sys.executable, "-m", "siamkit", "recommend", str(model), "--gallery"]
        command += [str(gallery), "--like", "item-0", "--k", "3"]
        trees = {"this tree": None}
        if args.before_src:
            trees["--before-src"] = args.before_src
        seconds: dict[str, list[float]] = {name: [] for name in trees}
        outputs = set()
        for run in range(args.runs):
            names = list(trees) if run % 2 == 0 else list(reversed(trees))
            for name in names:
                env = dict(os.environ)
                if trees[name] is not None:
                    env["PYTHONPATH"] = str(trees[name])
                start = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
                seconds[name].append(time.perf_counter() - start)
                outputs.add(hashlib.sha256(done.stdout.encode()).hexdigest()[:12])
    print(f"siamkit from {Path(siamkit.__file__).parent}; load average {os.getloadavg()[0]:.1f}")
    print(f"no-build check: {'answers (' + shortcut + ')' if shortcut else 'None: model built'}")
    for name, times in seconds.items():
        print(
            f"recommend ({name}), {args.runs} runs: median {statistics.median(times):.1f} s "
            f"(min {min(times):.1f}, max {max(times):.1f})"
        )
    print(f"output digests (one: the same answers): {sorted(outputs)}")


if __name__ == "__main__":
    main()
