"""Galleries and search: a durable SQLite gallery over exact, FAISS or LSH search.

>>> from siamkit.index import Gallery
>>> with Gallery.open("staff.db", model) as g:  # doctest: +SKIP
...     g.enroll("alice", images)
...     print(g.identify(query).label)
"""

from siamkit.index.base import SearchIndex, SearchResult
from siamkit.index.exact import ExactIndex
from siamkit.index.factory import INDEX_KINDS, create_index, load_index
from siamkit.index.faiss_index import FaissIndex
from siamkit.index.gallery import Gallery
from siamkit.index.gallery_search import UnknownItemError
from siamkit.index.lsh import LSHIndex
from siamkit.index.provenance import NO_MODEL
from siamkit.index.recommend import recommend_like
from siamkit.index.repeats import SAME_EMBEDDING_TOLERANCE
from siamkit.index.results import (
    EnrolledIds,
    GalleryMismatchError,
    GalleryStats,
    IdentifyResult,
    Match,
    UnknownLabelError,
    VerifyResult,
)
from siamkit.index.store import GalleryStore, LabelInfo, StoredItems
from siamkit.index.verify import verify_pair

__all__ = [
    "INDEX_KINDS",
    "NO_MODEL",
    "SAME_EMBEDDING_TOLERANCE",
    "EnrolledIds",
    "ExactIndex",
    "FaissIndex",
    "Gallery",
    "GalleryMismatchError",
    "GalleryStats",
    "GalleryStore",
    "IdentifyResult",
    "LSHIndex",
    "LabelInfo",
    "Match",
    "SearchIndex",
    "SearchResult",
    "StoredItems",
    "UnknownItemError",
    "UnknownLabelError",
    "VerifyResult",
    "create_index",
    "load_index",
    "recommend_like",
    "verify_pair",
]
