"""Where a plagiarism check cuts sentences, as a teacher reads the spans: a short closing line
("Thank you.") is no passage of its own that matches every letter ending alike, and an
abbreviation (Dr., U.S., p.m., e.g., No. 5) does not end a sentence mid-way, while a text in
lower case still ends its sentences at periods."""

from __future__ import annotations

from siamkit.applications.text.documents import Document
from siamkit.applications.text.passages import split_sentences
from siamkit.applications.text.plagiarism import find_plagiarism

ESSAY = "Volcanoes form where tectonic plates pull apart or collide with each other. Thank you."
LETTER = "The committee met on Tuesday to review the annual budget for the library. Thank you."


def _texts(text: str) -> list[str]:
    parts = split_sentences(text)
    assert all(text[p.start : p.end] == p.text for p in parts)  # offsets hold
    return [p.text for p in parts]


def test_a_short_last_sentence_joins_the_one_before_it() -> None:
    assert _texts(ESSAY) == [ESSAY]
    two = "Plants need light to grow well. Animals need food to survive. Thank you."
    assert _texts(two) == [
        "Plants need light to grow well.",
        "Animals need food to survive. Thank you.",
    ]
    assert _texts("Thank you.") == ["Thank you."]  # a text of one short sentence is still one


def test_a_closing_thank_you_is_not_a_copied_span(text_model) -> None:  # type: ignore[no-untyped-def]
    # by hand: the two texts share only their closing words; the essay copies nothing
    report = find_plagiarism(
        text_model, Document("essay", ESSAY), [Document("letter", LETTER)], 0.72
    )
    copied = [ESSAY[s.suspect_start : s.suspect_end] for s in report.spans]
    assert copied == [] and report.scores == []


def test_an_abbreviation_does_not_end_a_sentence() -> None:
    # by hand: where a reader ends each sentence
    text = (
        "Dr. Smith and Mrs. Jones went to Washington D.C. on Monday. "
        "They met the U.S. president at 3 p.m. in his office. "
        "Some fruits (e.g. apples) grow well in the north. See Fig. 3 for the harvest. "
        "No. 5 was the best field of all. It rained! Was it enough? Nobody knows it yet."
    )
    assert _texts(text) == [
        "Dr. Smith and Mrs. Jones went to Washington D.C. on Monday.",
        "They met the U.S. president at 3 p.m. in his office.",
        "Some fruits (e.g. apples) grow well in the north.",
        "See Fig. 3 for the harvest.",
        "No. 5 was the best field of all.",
        "It rained! Was it enough?",  # "It rained!" is under 4 words: joined to the next
        "Nobody knows it yet.",
    ]


def test_a_blank_line_or_a_closing_quote_still_ends_one() -> None:
    text = (
        'We moved to the U.S.\n\nThe next year was hard for us. He said "go home." Then he left us.'
    )
    assert _texts(text) == [
        "We moved to the U.S.",
        "The next year was hard for us.",
        'He said "go home."',
        "Then he left us.",
    ]


def test_a_text_in_lower_case_still_ends_sentences_at_periods() -> None:
    text = (
        "the printer is broken again today. tried restarting it twice already. "
        "we sell apples, pears, etc. and more fruit here. acme inc. said so... and left it."
    )
    assert _texts(text) == [
        "the printer is broken again today.",
        "tried restarting it twice already.",
        "we sell apples, pears, etc. and more fruit here.",
        "acme inc. said so... and left it.",
    ]


def test_several_short_last_sentences_join_the_one_before_them() -> None:
    # by hand: "Thanks." was held for the next sentence, and with "Bye." it is still under 4
    # words and last; four words between them make a sentence of their own, as before
    text = "Plants need light to grow well. Thanks. Bye."
    assert _texts(text) == [text]
    assert _texts("Plants need light to grow well. Thanks. Bye for now.") == [
        "Plants need light to grow well.",
        "Thanks. Bye for now.",
    ]
    assert _texts("Thanks. Bye.") == ["Thanks. Bye."]  # nothing before: one


def test_a_closing_pair_of_short_lines_is_not_a_copied_span(text_model) -> None:  # type: ignore[no-untyped-def]
    # by hand: the two texts share only their two closing lines; the essay copies nothing
    essay, letter = (
        ESSAY.replace("Thank you.", "Thanks. Bye."),
        LETTER.replace("Thank you.", "Thanks. Bye."),
    )
    report = find_plagiarism(
        text_model, Document("essay", essay), [Document("letter", letter)], 0.72
    )
    assert [essay[s.suspect_start : s.suspect_end] for s in report.spans] == []
