"""The image web page shows the file each item was enrolled from (``source``, which /identify's
matches and GET /gallery/images' images carry): under a match's distance and under a label's
image, as text (never markup), and nothing where the service knows none.

The page's scripts run in Node with a stand-in DOM that keeps the nodes it is given."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from _service_helpers import require_node

import siamkit.service

STATIC = Path(siamkit.service.__file__).parent / "static"

# Loads common.js and app.js into one context, as index.html's <script> tags do, answers api()
# with the given /identify and /gallery/images answers, runs onIdentify and showLabel, and prints
# the nodes put in the matches and in the label's image list, as trees of tag, class, text, title.
HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const [common, page, identify, images] = JSON.parse(fs.readFileSync(0, "utf8"));
function node(tag) {
  return {
    tag, textContent: "", className: "", hidden: false, value: "", files: [], dataset: {},
    disabled: false, title: "", children: [],
    set innerHTML(_) { throw new Error("innerHTML used: server text must go in as text"); },
    append(...c) { this.children.push(...c); },
    replaceChildren(...c) { this.children = c; },
    addEventListener() {},
  };
}
const nodes = {};
const context = {
  document: { getElementById: (id) => (nodes[id] = nodes[id] || node("div")),
              createElement: (tag) => node(tag), addEventListener() {} },
  FormData: class { append() {} }, console,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(common, "utf8"), context);
vm.runInContext(fs.readFileSync(page, "utf8"), context);
context.answers = { identify, images };
vm.runInContext(
  "api = async (method, path) => path === '/identify' ? answers.identify : answers.images;",
  context);
const tree = (n) => ({ tag: n.tag, cls: n.className, text: n.textContent, title: n.title,
                       children: n.children.map(tree) });
(async () => {
  const box = context.document.getElementById;
  box("identify-file").files = [{ name: "q.png" }];
  box("identify-k").value = "5";
  await vm.runInContext("onIdentify({ preventDefault() {} })", context);
  await vm.runInContext("showLabel('tiles')", context);
  if (box("identify-result").className.includes("error")) throw new Error(box("identify-result").textContent);
  process.stdout.write(JSON.stringify([box("identify-matches").children.map(tree),
                                       box("label-images-list").children.map(tree),
                                       box("label-images-note").textContent]));
})().catch((err) => { process.stderr.write(String(err.stack || err)); process.exit(1); });
"""

ODD = '<img src=x onerror="alert(1)">.png'  # a file name is shown as it is, never as markup


def _run(identify: dict[str, Any], images: dict[str, Any]) -> list[Any]:
    node = require_node()
    args = [str(STATIC / "common.js"), str(STATIC / "app.js"), identify, images]
    done = subprocess.run(
        [node, "-e", HARNESS], input=json.dumps(args), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _texts(tree: dict[str, Any], cls: str) -> list[dict[str, str]]:
    """The text and title of every node of class ``cls`` in ``tree``."""
    found = [{"text": tree["text"], "title": tree["title"]}] if tree["cls"] == cls else []
    for child in tree["children"]:
        found += _texts(child, cls)
    return found


def _match(item_id: int, source: str | None) -> dict[str, Any]:
    return {"label": "tiles", "distance": 0.1, "item_id": item_id, "accepted": True,
            "margin": 0.4, "thumbnail": None, "source": source}  # fmt: skip


def test_matches_and_a_labels_images_show_their_source_file_as_text():
    identify = {
        "threshold": 0.5,
        "label": "tiles",
        "matches": [_match(1, "photos/tiles/tile-1.png"), _match(2, None), _match(3, ODD)],
    }
    images = {
        "label": "tiles",
        "count": 3,
        "images": [
            {"item_id": 1, "thumbnail": "data:image/png;base64,AA==", "source": "tile-1.png"},
            {"item_id": 2, "thumbnail": "data:image/png;base64,AA==", "source": None},
            {"item_id": 3, "thumbnail": "data:image/png;base64,AA==", "source": ODD},
        ],
    }
    matches, listed, note = _run(identify, images)
    assert [_texts(m, "source") for m in matches] == [
        [{"text": "from photos/tiles/tile-1.png", "title": "photos/tiles/tile-1.png"}],
        [],  # unknown: nothing shown, not "from null"
        [{"text": "from " + ODD, "title": ODD}],
    ]
    assert [_texts(im, "source") for im in listed] == [
        [{"text": "from tile-1.png", "title": "tile-1.png"}],
        [],
        [{"text": "from " + ODD, "title": ODD}],
    ]
    # each image keeps its thumbnail and its #ID beside its file, and its own remove button
    assert [[c["cls"] for c in im["children"]] for im in listed] == [
        ["thumb", "item-id", "source", "link item-remove"],
        ["thumb", "item-id", "link item-remove"],
        ["thumb", "item-id", "source", "link item-remove"],
    ]
    assert note == "3 images enrolled."


def test_a_service_that_sends_no_source_shows_none():
    """An older service's answers have no ``source`` key at all: no line, no 'undefined'."""
    match = _match(1, None)
    del match["source"]
    image = {"item_id": 1, "thumbnail": "data:image/png;base64,AA=="}
    matches, listed, _ = _run(
        {"threshold": 0.5, "label": "tiles", "matches": [match]},
        {"label": "tiles", "count": 1, "images": [image]},
    )
    assert _texts(matches[0], "source") == [] and _texts(listed[0], "source") == []
    assert "undefined" not in json.dumps([matches, listed])
