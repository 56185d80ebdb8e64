"""The last batch of a user's DataLoader can hold one item; with the resnet or mlp encoder in
training mode torch said only 'Expected more than 1 value per channel when training'. The model
now says what to do; in eval mode one item embeds as before."""

from __future__ import annotations

import pytest
import torch

import siamkit
from siamkit.encoders import create_encoder
from siamkit.models.preprocess import one_item_batch_named

NAMED = (
    r"^a batch of 1 cannot pass the encoder's batch norm in training mode; drop the last batch "
    r"\(DataLoader\(\.\.\., drop_last=True\)\) or call model\.eval\(\) before embedding one item$"
)


@pytest.mark.parametrize(
    ("encoder", "x"),
    [
        (lambda: create_encoder("mlp", in_features=4), torch.rand(1, 4)),
        (lambda: create_encoder("resnet", in_channels=1), torch.rand(1, 1, 28, 28)),
    ],
    ids=["mlp", "resnet"],
)
def test_one_item_in_training_mode_says_what_to_do(encoder, x: torch.Tensor) -> None:
    net = siamkit.SiameseNetwork(encoder(), embedding_dim=8)
    with pytest.raises(ValueError, match=NAMED):
        net.embed(x)
    assert net.eval().embed(x).shape == (1, 8)


def test_each_half_twin_branch_says_it_too() -> None:
    twin = siamkit.HalfTwinNetwork(
        create_encoder("mlp", in_features=4), create_encoder("mlp", in_features=3), 8
    )
    with pytest.raises(ValueError, match=NAMED):
        twin.embed_f(torch.rand(1, 4))
    with pytest.raises(ValueError, match=NAMED):
        twin.embed_g(torch.rand(1, 3))


def test_other_value_errors_pass_through() -> None:
    with pytest.raises(ValueError, match=r"^the encoder's own problem$"), one_item_batch_named():
        raise ValueError("the encoder's own problem")
