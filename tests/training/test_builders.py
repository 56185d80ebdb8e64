"""Model / optimiser / schedule builders."""

from __future__ import annotations

import math

import pytest
import torch

from siamkit.models import JoinedEmbedding, SiameseNetwork
from siamkit.training import (
    AppearanceConfig,
    ModelConfig,
    OptimConfig,
    build_model,
    build_optimizer,
    build_scheduler,
    embedding_model,
)
from siamkit.training.builders import lr_factor


def test_appearance_in_the_loss_widens_the_embedding_and_learned_metrics_follow() -> None:
    cfg = ModelConfig(
        embedding_dim=16, appearance=AppearanceConfig(weight=1.0, pool=4), distance="mahalanobis"
    )
    net = build_model(cfg, (1, 28, 28))
    assert isinstance(net, JoinedEmbedding) and embedding_model(net, cfg) is net
    z = net.embed(torch.rand(3, 1, 28, 28))
    assert z.shape == (3, 16 + 49) and net.embedding_dim == 65
    assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
    assert net.distance.pairwise(z, z).shape == (3,)
    assert net.distance.name == "mahalanobis" and net.net.distance.name == "euclidean"
    # the learned metric (of the joined embedding) is trained with the network
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == sum(p.numel() for p in net.net.parameters()) + sum(
        p.numel() for p in net.distance.parameters()
    )


def test_appearance_out_of_the_loss_trains_the_network_alone_and_joins_after() -> None:
    cfg = ModelConfig(embedding_dim=16, appearance=AppearanceConfig(pool=4, in_loss=False))
    torch.manual_seed(0)
    net = build_model(cfg, (1, 28, 28))
    torch.manual_seed(0)
    plain = build_model(ModelConfig(embedding_dim=16), (1, 28, 28))
    assert type(net) is SiameseNetwork and net.embedding_dim == 16
    # the same weights as the run without appearance features: they take no random draws
    assert all(
        torch.equal(a, b) for a, b in zip(net.state_dict().values(), plain.state_dict().values())
    )
    joined = embedding_model(net, cfg)
    assert isinstance(joined, JoinedEmbedding) and joined.net is net
    assert joined.embedding_dim == 16 + 49 and embedding_model(plain, ModelConfig()) is plain


def test_fixed_normalisation_wins_over_data_statistics() -> None:
    net = build_model(
        ModelConfig(input_mean=(0.5,), input_std=(0.25,)), (1, 8, 8), mean=(0.1,), std=(0.9,)
    )
    assert net.preprocess.config()["mean"] == [0.5] and net.preprocess.config()["std"] == [0.25]
    net = build_model(ModelConfig(), (1, 8, 8), mean=(0.1,), std=(0.9,))
    assert net.preprocess.config()["mean"] == pytest.approx([0.1])


def test_fixed_statistics_of_another_channel_count_give_way_to_the_datas() -> None:
    grey = ModelConfig(input_mean=(0.286,), input_std=(0.353,))
    lines: list[str] = []
    net = build_model(grey, (3, 8, 8), mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6), log=lines.append)
    assert net.preprocess.config()["mean"] == pytest.approx([0.1, 0.2, 0.3])
    assert net.preprocess.config()["std"] == pytest.approx([0.4, 0.5, 0.6])
    assert len(lines) == 1 and "model.input_mean / model.input_std" in lines[0]
    rgb = ModelConfig(input_mean=(0.5, 0.5, 0.5), input_std=(0.2, 0.2, 0.2))
    with pytest.warns(UserWarning, match="give 3 values but the images have 1 channel:") as got:
        net = build_model(rgb, (1, 8, 8), mean=(0.1,), std=(0.9,))  # no log: a warning
    # the note's fix said "set both keys to 1 values"
    assert "(set both keys to 1 value, or to null, to silence this)" in str(got[0].message)
    assert "(set both keys to 3 values, or to null," in lines[0]
    assert net.preprocess.config()["mean"] == pytest.approx([0.1])


def test_skip_on_vectors_and_bad_encoder_args_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="image inputs"):
        build_model(
            ModelConfig(encoder="mlp", encoder_kwargs={}, appearance=AppearanceConfig()), (16,)
        )
    with pytest.raises(ValueError, match="encoder_kwargs"):
        build_model(ModelConfig(encoder_kwargs={"depth": 3}), (1, 28, 28))


def test_cosine_schedule_follows_the_formula() -> None:
    total, warm = 100, 0.1
    for step in (0, 5, 9, 10, 50, 99):
        want = (step + 1) / 10 if step < 10 else 0.5 * (1 + math.cos(math.pi * (step - 10) / 90))
        assert lr_factor(step, total, "cosine", warm) == pytest.approx(want)
    opt = build_optimizer(
        OptimConfig(optimizer="sgd", lr=0.1, schedule="cosine", warmup_fraction=0.1),
        [torch.nn.Parameter(torch.ones(1))],
    )
    sched = build_scheduler(OptimConfig(schedule="cosine", warmup_fraction=0.1, lr=0.1), opt, total)
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.01) and lrs[10] == pytest.approx(0.1) and lrs[-1] < 0.001


def test_grey_images_read_as_colour_are_pointed_to_data_grayscale() -> None:
    """configs/demo.yaml on a folder of grey PNGs (Omniglot's) was told to give
    model.input_mean three values: the fix is to read the images as one channel."""
    grey = ModelConfig(input_mean=(0.286,), input_std=(0.353,))
    lines: list[str] = []
    build_model(grey, (3, 8, 8), mean=(0.05,) * 3, std=(0.09,) * 3, log=lines.append)
    assert lines[0].endswith(
        "; the three channels are alike, so these look like grey images read as colour: "
        "--set data.grayscale=true reads them as one channel"
    )
    lines.clear()  # colour images: no such clause
    build_model(grey, (3, 8, 8), mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6), log=lines.append)
    assert len(lines) == 1 and "grayscale" not in lines[0]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_steps_as_torchs_sgd_and_momentum_0_is_plain_sgd(momentum: float) -> None:
    """optim.optimizer sgd is torch's SGD with Nesterov momentum, and plain SGD at momentum 0,
    which the config accepts (0 <= momentum < 1) but Nesterov refused with torch's error."""
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5))
    ref = torch.nn.Parameter(w.detach().clone())
    cfg = OptimConfig(optimizer="sgd", lr=0.1, weight_decay=0.01, momentum=momentum)
    opt = build_optimizer(cfg, [w])
    want = torch.optim.SGD(
        [ref], lr=0.1, weight_decay=0.01, momentum=momentum, nesterov=momentum > 0
    )
    target = torch.randn(5)
    for _ in range(3):
        for p, o in ((w, opt), (ref, want)):
            o.zero_grad()
            ((p - target) ** 2).sum().backward()
            o.step()
    assert torch.equal(w, ref)
    assert not torch.equal(w, target)


def test_onecycle_with_the_whole_run_as_warm_up_is_refused_before_training() -> None:
    """torch's OneCycleLR with pct_start 1 has no annealing step: the run's last scheduler step
    divides by zero, so a run trained every epoch and then ended in a ZeroDivisionError
    traceback, its last epoch unsaved. The config refuses it; cosine takes it, and a share just
    under 1 steps through to the end."""
    from siamkit.training.config_io import config_from_dict
    from siamkit.training.config_sections import ConfigError

    total = 10
    torch_alone = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(torch_alone, 0.1, total_steps=total, pct_start=1.0)
    with pytest.raises(ZeroDivisionError):
        for _ in range(total):
            torch_alone.step()
            sched.step()
    with pytest.raises(ConfigError, match=r"^optim\.warmup_fraction = 1\.0 leaves optim\.sched"):
        config_from_dict({"optim": {"schedule": "onecycle", "warmup_fraction": 1}})
    config_from_dict({"optim": {"schedule": "cosine", "warmup_fraction": 1}})
    cfg = config_from_dict({"optim": {"schedule": "onecycle", "warmup_fraction": 0.999}}).optim
    opt = build_optimizer(cfg, [torch.nn.Parameter(torch.ones(1))])
    sched = build_scheduler(cfg, opt, total)
    for _ in range(total):
        opt.step()
        sched.step()
