"""A gallery's wrong-size embedding is named with its size counted as every message counts: one
byte as one, and the thousands separated ("not 1000 float32 values (4000 bytes) ... 4001
bytes": a 1,000-wide embedding is common; s60 final note, Counts). The blobs are built
directly: no gallery file."""

from __future__ import annotations

import pytest

from siamkit.index.store import GalleryDamagedError, embeddings_from_blobs


def test_a_wide_embeddings_sizes_have_the_separator() -> None:
    ok = b"\0" * 4000
    with pytest.raises(GalleryDamagedError) as err:
        embeddings_from_blobs("g.db", [1, 2], [ok, b"\0" * 4001], 1000)
    assert (
        "1 item holds an embedding that is not 1,000 float32 values (4,000 bytes), the size it "
        "records (item 2: 4,001 bytes), so it cannot be searched"
    ) in str(err.value)


def test_one_byte_is_one_byte() -> None:
    with pytest.raises(GalleryDamagedError) as err:
        embeddings_from_blobs("g.db", [1, 2], [b"\0" * 4, b"\0"], 1)
    assert "not 1 float32 value (4 bytes), the size it records (item 2: 1 byte), so" in str(
        err.value
    )
