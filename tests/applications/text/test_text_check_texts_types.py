"""A text model given something other than strings where texts go (issue 16 from Python) says
which argument and what it is, in one sentence."""

from __future__ import annotations

import pytest

from siamkit.applications.text.text_checks import check_texts


def test_a_list_where_one_string_goes_is_named_not_called_a_list_of_strings() -> None:
    # compare_texts(model, ["a b"], "b") said 'a text model embeds a list of strings, got list'
    with pytest.raises(TypeError, match=r"^A is of type list, not str; give each text as a str$"):
        check_texts([["a b"], "b"], names=("A", "B"))
    with pytest.raises(TypeError, match=r"^text 1 is of type int, not str"):
        check_texts(["fine", 3])
    with pytest.raises(TypeError, match="a text model embeds a list of strings, got bytes"):
        check_texts(b"raw bytes")
    assert check_texts("one") == ["one"]
