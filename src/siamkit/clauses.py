"""What a NaN or infinite embedding stops, one home for the clauses that end the refusal's
sentence (``which=`` of :func:`~siamkit.index.embedding.model_embeddings`): "... hold NaN or
infinite values ('b.png'), which no verdict can be given on".

A module of the lowest layer, without torch, so that :mod:`siamkit.index` and the face
application's ``recognize`` (``siamkit face verify`` with dlib starts without torch) import the
same text; each was written out in two or three places (s57_FB)."""

from __future__ import annotations

__all__ = ["NO_EVALUATION", "NO_VERDICT"]

NO_VERDICT = "no verdict can be given on"
"""What a NaN embedding stops in a 1:1 verification (``siamkit verify``, ``face verify``,
``signature verify``, the service's /verify), which runs no search."""

NO_EVALUATION = "no evaluation can score"
"""What a NaN embedding stops in an evaluation (``siamkit face``, ``text`` and ``signature
evaluate``), which runs no search either: the gallery's "which no search can rank" was false of
it (s55_R2 finding 2's aside)."""
