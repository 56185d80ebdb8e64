"""The text an HTML page shows (:func:`html_text`), for corpora and plagiarism suspects saved as
web pages: their sentences must split, match and be highlighted as a text file's, which markup
with no space between its tags (``</p><p>``) would prevent."""

from __future__ import annotations

import re
from html.parser import HTMLParser

HTML_SUFFIXES = {".html", ".htm"}
# elements that start and end a paragraph of the text shown; their text is never run together
_HTML_BLOCKS = {
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
}  # fmt: skip
# elements whose content is not shown as text
_HTML_HIDDEN = {"head", "script", "style", "template", "noscript", "svg", "title"}


class _ShownText(HTMLParser):
    """The paragraphs of text an HTML page shows (see :func:`html_text`)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[list[str]] = [[]]
        self.hidden: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # a <head> left open ends where the body starts, or its first paragraph (HTML lets a
        # page leave out </head> and <body>)
        if tag == "body" or (tag in _HTML_BLOCKS and self.hidden == ["head"]):
            self.hidden.clear()
        if tag in _HTML_HIDDEN:
            self.hidden.append(tag)
        elif tag in _HTML_BLOCKS:
            self.blocks.append([])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_BLOCKS:  # <br/>, <hr/>
            self.blocks.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in self.hidden:
            del self.hidden[len(self.hidden) - 1 - self.hidden[::-1].index(tag) :]
        elif tag in _HTML_BLOCKS:
            self.blocks.append([])

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.blocks[-1].append(data)


def html_text(markup: str) -> str:
    r"""The text an HTML page shows: tags, comments, script, style and the head left out,
    character references decoded, each block element (``<p>``, ``<div>``, ``<li>``, ``<br>``,
    headings, ...) a paragraph of its own, separated by a blank line, and the spaces inside a
    paragraph collapsed as a browser does. A file with no tag at all is returned as it is.

    >>> html_text("<html><head><title>T</title></head><body><p>One &amp; two.</p><p>Three.</p>")
    'One & two.\n\nThree.'
    """
    if not re.search(r"<[A-Za-z!/]", markup):
        return markup
    parser = _ShownText()
    parser.feed(markup)
    parser.close()
    paragraphs = (" ".join("".join(b).split()) for b in parser.blocks)
    return "\n\n".join(p for p in paragraphs if p)


# a tag of a block element, opening or closing (<p>, </div>, <br/>)
_BLOCK_TAG = re.compile(rf"</?(?:{'|'.join(sorted(_HTML_BLOCKS))})\b[^<>]*>", re.IGNORECASE)


def looks_like_html(text: str) -> bool:
    """Whether a corpus field holds HTML (a CMS export's ``<p>...</p><p>...</p>`` body): two or
    more tags of block elements; a text that names one tag (``my </div> closes early``) does not.

    >>> looks_like_html("<p>One.</p><p>Two.</p>"), looks_like_html("my </div> closes early")
    (True, False)
    """
    return "<" in text and len(_BLOCK_TAG.findall(text)) >= 2
