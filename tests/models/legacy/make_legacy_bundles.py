"""Write the model folders of this directory with siamkit before JoinedEmbedding (commit 7d9e73b:
a ``kind: siamese`` model with an ``appearance_skip``), and what they embed, for
``tests/models/test_joined.py``. Run once with that siamkit on the path::

    PYTHONPATH=<siamkit 7d9e73b>/src python tests/models/legacy/make_legacy_bundles.py
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

import siamkit
from siamkit.distances import MahalanobisDistance
from siamkit.export import save_model
from siamkit.heads import AppearanceSkip  # type: ignore[attr-defined]  # gone since
from siamkit.index import Gallery
from siamkit.models import Preprocess, SiameseNetwork

HERE = Path(__file__).resolve().parent


def trained_like(net: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for name, buf in net.named_buffers():
            if name.endswith("running_mean") or name.endswith("running_var"):
                buf.add_(0.1 * torch.rand_like(buf))
    return net.eval()


def main() -> None:
    torch.manual_seed(0)
    prep = Preprocess((0.3,), (0.4,), (1, 28, 28))
    hog = AppearanceSkip(0.5, 7, "hog", bins=6, signed=True, levels=2)  # 6 * (16 + 4) = 120
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    net = trained_like(SiameseNetwork(enc, 8, preprocess=prep, appearance_skip=hog))
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        net.set_score_norm(net.embed(torch.rand(12, 1, 28, 28)), k=4, method="snorm")
        save_model(net, HERE / "hog_snorm", threshold=-0.25)
        tensors = {"x": x, "z": net.embed(x), "d": net(x, x.flip(0))}
        tensors["scores"] = net.scoring_distance.pairwise(tensors["z"], tensors["z"].flip(0))
        save_file(tensors, str(HERE / "hog_snorm.expected.safetensors"))
        (HERE / "hog_snorm.gallery.db").unlink(missing_ok=True)
        with Gallery.open(HERE / "hog_snorm.gallery.db", net) as g:  # records the fingerprint
            g.enroll("a", x[:2])
            g.enroll("b", x[2:])

        pixels = AppearanceSkip(1.0, 7)  # 16 pooled pixels
        enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
        maha = MahalanobisDistance(8 + 16, rank=4)
        net = trained_like(
            SiameseNetwork(enc, 8, distance=maha, preprocess=prep, appearance_skip=pixels)
        )
        save_model(net, HERE / "pixels_mahalanobis", threshold=0.5)
        tensors = {"x": x, "z": net.embed(x), "d": net(x, x.flip(0))}
        save_file(tensors, str(HERE / "pixels_mahalanobis.expected.safetensors"))


if __name__ == "__main__":
    main()
