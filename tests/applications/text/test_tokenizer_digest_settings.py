"""A text model's fingerprint holds a digest of its tokenizer (9d52db86), which hashed the
vocabulary, the special ids and one probe text's tokens: two tokenizers that share these but
differ in a setting the probe does not meet (an added token's ``single_word``, the normaliser's
``clean_text``, the word piece's ``max_input_chars_per_word``) gave one fingerprint, so a gallery
enrolled with one opened with the other though their embeddings differ. Each case below checks,
by the tokenizer itself (the reference), that the two tokenize some text differently, so the
embeddings differ, and that the fingerprints differ too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from _tiny_bert import save_tiny_bert
from siamkit import model_fingerprint
from siamkit.applications.text import TextSiameseNetwork

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tokdigest") / "bert", layers=1)


def _single_word(tok: Any) -> None:
    from transformers import AddedToken

    tok.add_tokens([AddedToken("zork", single_word=True)])


def _not_single_word(tok: Any) -> None:
    from transformers import AddedToken

    tok.add_tokens([AddedToken("zork", single_word=False)])


def _no_clean_text(tok: Any) -> None:
    from tokenizers import normalizers

    n = json.loads(tok.backend_tokenizer.to_str())["normalizer"]
    tok.backend_tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=False,
        handle_chinese_chars=n["handle_chinese_chars"],
        strip_accents=n["strip_accents"],
        lowercase=n["lowercase"],
    )


def _short_words(tok: Any) -> None:
    from tokenizers import models

    tok.backend_tokenizer.model = models.WordPiece(
        tok.get_vocab(), unk_token="[UNK]", max_input_chars_per_word=20
    )


def _built(bert: Path, change: Callable[[Any], None]) -> TextSiameseNetwork:
    """The tiny BERT with its tokenizer changed by ``change`` (an added token gets a row of the
    embedding table drawn alike in every model)."""
    net = TextSiameseNetwork.pretrained(bert)
    change(net.encoder.tokenizer)
    torch.manual_seed(0)
    net.encoder.transformer.resize_token_embeddings(len(net.encoder.tokenizer))
    return net


CASES: dict[str, tuple[Callable[[Any], None], Callable[[Any], None], str]] = {
    # (change of the first model, of the second, a text they tokenize differently)
    "added token single_word": (_not_single_word, _single_word, "zorkish"),
    "clean_text": (lambda tok: None, _no_clean_text, "a\x07b"),
    "max_input_chars_per_word": (lambda tok: None, _short_words, "internationalizationalisms"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tokenizers_differing_in_a_setting_give_different_fingerprints(
    bert: Path, case: str
) -> None:
    first, second, text = CASES[case]
    a, b = _built(bert, first), _built(bert, second)
    ids = [net.encoder.tokenizer(text, add_special_tokens=False)["input_ids"] for net in (a, b)]
    assert ids[0] != ids[1]  # the embeddings of ``text`` differ: the fingerprints must too
    assert a.embed([text]).tolist() != b.embed([text]).tolist()
    assert model_fingerprint(a) != model_fingerprint(b)


def test_the_same_tokenizer_changed_alike_gives_one_fingerprint(bert: Path) -> None:
    for first, second, _ in CASES.values():
        for change in (first, second):
            assert model_fingerprint(_built(bert, change)) == model_fingerprint(
                _built(bert, change)
            )
