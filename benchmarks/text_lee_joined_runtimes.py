"""Lee Pearson r over all 1,225 pairs of a text model and of its ONNX exports (fp32, int8).

    siamkit text lexical --corpus .../lee_background.cor --out /tmp/leelex --weight 0.3
    siamkit export /tmp/leelex --format onnx --int8
    make text-data   # the Lee files (older records unpacked gensim's wheel at /tmp/gensimpkg instead)
    PYTHONPATH=src python benchmarks/text_lee_joined_runtimes.py /tmp/leelex

Prints r for PyTorch, ONNX fp32 and int8 (with the least cosine to PyTorch over the 50 documents),
and r of the same model without its lexical tower, if it has one.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from siamkit.applications.text import load_text_model
from siamkit.applications.text.embedding import embed_texts
from siamkit.applications.text.onnx_model import load_text_onnx_model
from text_bench_data import lee_documents, lee_pairs


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "folder",
        nargs="?",
        default="/tmp/leelex",
        help="the text model's folder, with its onnx/ export",
    )
    folder = ap.parse_args().folder
    docs, (i, j, y) = lee_documents(), lee_pairs()

    def r(z: np.ndarray) -> float:
        return float(np.corrcoef((z[i] * z[j]).sum(1), y)[0, 1])

    m = load_text_model(folder)
    zt = embed_texts(m, docs).vectors
    print(f"| PyTorch | {r(zt):.3f} | 1.000000 |")
    for int8 in (False, True):
        zo = load_text_onnx_model(folder, int8=int8).embed(docs).numpy()
        name = "ONNX Runtime int8" if int8 else "ONNX Runtime fp32"
        print(f"| {name} | {r(zo):.3f} | {float((zo * zt).sum(1).min()):.6f} |")
    if m.lexical is not None:
        m.lexical = None
        print(f"| PyTorch, the transformer alone | {r(embed_texts(m, docs).vectors):.3f} | |")


if __name__ == "__main__":
    main()
