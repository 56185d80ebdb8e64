"""human_bytes names one byte as one: a disk with 1 byte free was said to have "1 bytes was
free" (s60 final note, Counts). progress is layer 0 beside clauses, so it writes the choice
inline; under 1,024 bytes no count needs the separator."""

from __future__ import annotations

from siamkit.progress import human_bytes


def test_one_byte_is_one_byte() -> None:
    assert [human_bytes(n) for n in (0, 1, 2, 1023, 1024)] == [
        "0 bytes",
        "1 byte",
        "2 bytes",
        "1023 bytes",
        "1 KiB",
    ]
