"""``siamkit text similarity / dedup / plagiarism``: Siamese transformers for text from the shell.

    siamkit text similarity "A man is playing guitar." "Someone plays a guitar."
    siamkit text dedup corpus.jsonl --out groups.jsonl --threshold auto
    siamkit text plagiarism essay.txt --corpus sources/ --out report.html
    siamkit text enroll tickets.jsonl --gallery tickets.db --model runs/tickets/model
    siamkit text identify "My laptop will not charge" --gallery tickets.db

Thin shell over :mod:`siamkit.applications.text`: parse, call the library, print text or JSON.
This module holds the ``text`` group; each command lives in a ``text_*`` module beside it and
what they share in ``_text_common`` (``_text_gallery``: the gallery commands').
"""

from __future__ import annotations

import click

from siamkit.cli.text_dedup_cmd import dedup
from siamkit.cli.text_gallery_cmds import enroll, identify, verify
from siamkit.cli.text_model_cmds import export, lexical
from siamkit.cli.text_plagiarism_cmd import plagiarism
from siamkit.cli.text_similarity_cmd import similarity


@click.group("text")
def text() -> None:
    """Text similarity, near-duplicate groups and plagiarism reports with a Siamese transformer.

    Texts longer than the model's window (256 tokens, or its position table where less; a
    saved model's, the one it was saved with, so a larger one is set by training with
    model.max_length) are embedded as overlapping windows whose embeddings are averaged; the
    commands say when that happened.
    """


for _command in (similarity, dedup, plagiarism, enroll, identify, verify, export, lexical):
    text.add_command(_command)
