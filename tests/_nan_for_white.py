"""A SiameseNetwork that embeds an all-white image as NaN: the CLI tests of how a NaN embedding
is refused by its file (embed, identify, verify) share it."""

from __future__ import annotations

import pytest

from siamkit.models import SiameseNetwork


def nan_for_white(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch ``SiameseNetwork.embed`` so an all-white image's row is NaN (a plain loop over the
    batch); returns the list the batch sizes embedded from then on are appended to."""
    real, calls = SiameseNetwork.embed, []

    def embed(self, x, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(x))
        z = real(self, x, *args, **kwargs).clone()
        for i in range(len(x)):
            if bool((x[i] == 1.0).all()):
                z[i] = float("nan")
        return z

    monkeypatch.setattr(SiameseNetwork, "embed", embed)
    return calls
