"""``check_images_fit`` counts the processes of this machine that each hold the images: under a
torchrun launch ``LOCAL_WORLD_SIZE``. It read the variable with a bare ``int()`` in every run,
one-process runs included (s60_r5 finding 2): ``LOCAL_WORLD_SIZE=abc`` stopped a one-process run
with "invalid literal for int() with base 10: 'abc'", and a bare ``LOCAL_WORLD_SIZE=4`` (no
``WORLD_SIZE``: no launch) refused a folder that fits as if 4 processes each held it. It is now
read by :func:`siamkit.launch_env.env_local_world`, which counts it only in a launch."""

from __future__ import annotations

import pytest

from siamkit.data import memory as data_memory

SHAPE = (3, 64, 64)
FREE = 10 * 2**30
HALF = FREE // (3 * 64 * 64) // 2  # half of what fits for one process


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("WORLD_SIZE", "RANK", "LOCAL_WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(data_memory, "available_memory", lambda: FREE)
    return monkeypatch


@pytest.mark.parametrize("local_world", [None, "4", "abc", ""])
def test_a_one_process_run_holds_the_images_once(
    machine: pytest.MonkeyPatch, local_world: str | None
) -> None:
    if local_world is not None:
        machine.setenv("LOCAL_WORLD_SIZE", local_world)
    data_memory.check_images_fit(HALF, SHAPE, "photos")  # fits: no refusal, no int() error


@pytest.mark.parametrize(("local_world", "fits"), [("1", True), ("2", True), ("4", False)])
def test_the_processes_of_a_launch_each_hold_the_images(
    machine: pytest.MonkeyPatch, local_world: str, fits: bool
) -> None:
    machine.setenv("WORLD_SIZE", "4")
    machine.setenv("LOCAL_WORLD_SIZE", local_world)
    if fits:
        data_memory.check_images_fit(HALF, SHAPE, "photos")
        return
    with pytest.raises(ValueError, match="held in memory by the 4 processes on this machine"):
        data_memory.check_images_fit(HALF, SHAPE, "photos")
