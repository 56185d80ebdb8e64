"""available_memory read /proc/meminfo alone: in a container the cgroup's memory limit can be far
lower than what the machine has free, and a folder run the check let through was killed at the
limit. The least of the machine's MemAvailable and each memory cgroup's limit less its usage is
now what the check compares with; here on fake files."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamkit.data import memory as data_memory

MACHINE = 4_000_000 * 1024  # MemAvailable: 4000000 kB


def _fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cgroup: str) -> Path:
    (tmp_path / "meminfo").write_text(
        "MemTotal:       8000000 kB\nMemFree:         100 kB\nMemAvailable:   4000000 kB\n"
    )
    (tmp_path / "cgroup").write_text(cgroup)
    root = tmp_path / "sys"
    root.mkdir()
    monkeypatch.setattr(data_memory, "MEMINFO", str(tmp_path / "meminfo"), raising=False)
    monkeypatch.setattr(data_memory, "PROC_CGROUP", str(tmp_path / "cgroup"), raising=False)
    monkeypatch.setattr(data_memory, "CGROUP_ROOT", str(root), raising=False)
    return root


def _write(folder: Path, **files: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".", 1)).write_text(text)


def test_a_cgroup_v2_limit_below_the_machines_memory_is_what_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _fake(tmp_path, monkeypatch, "0::/\n")
    _write(
        root,
        memory_max="1000000000\n",
        memory_current="700000000\n",
        memory_stat="anon 500000000\ninactive_file 100000000\nactive_file 100000000\n",
    )
    # the limit less the usage, the inactive file cache (taken back first) not counted as used
    assert data_memory.available_memory() == 1_000_000_000 - (700_000_000 - 100_000_000)


def test_no_cgroup_limit_leaves_the_machines_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _fake(tmp_path, monkeypatch, "0::/\n")
    _write(root, memory_max="max\n", memory_current="700000000\n")
    assert data_memory.available_memory() == MACHINE
    _write(root, memory_max=f"{100 * MACHINE}\n")  # a limit above what is free
    assert data_memory.available_memory() == MACHINE


def test_no_cgroup_files_leave_the_machines_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake(tmp_path, monkeypatch, "12:memory:/gone\n0::/gone\n")
    assert data_memory.available_memory() == MACHINE


def test_a_cgroup_v1_limit_above_the_process_cgroup_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v1: the process's own cgroup unlimited (v1's largest number), its parent limited: the
    parent's limit holds the process too."""
    root = _fake(tmp_path, monkeypatch, "5:cpu:/\n4:memory:/jobs/run1\n0::/\n")
    memory = root / "memory"
    _write(memory, memory_limit_in_bytes="9223372036854771712\n", memory_usage_in_bytes="5\n")
    _write(
        memory / "jobs",
        memory_limit_in_bytes="2000000000\n",
        memory_usage_in_bytes="1500000000\n",
        memory_stat="cache 0\ntotal_inactive_file 200000000\n",
    )
    _write(
        memory / "jobs" / "run1",
        memory_limit_in_bytes="9223372036854771712\n",
        memory_usage_in_bytes="1000000000\n",
    )
    assert data_memory.available_memory() == 2_000_000_000 - (1_500_000_000 - 200_000_000)


def test_a_full_cgroup_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _fake(tmp_path, monkeypatch, "0::/box\n")
    _write(root / "box", memory_max="1000\n", memory_current="5000\n")
    assert data_memory.available_memory() == 0
