"""Runs the text page's scripts (common.js, text.js) in Node with a stand-in DOM, for the
test_service_page_text_*.py tests: the DOM keeps the nodes it is given and the listeners added to
them, refuses innerHTML (server text goes in as text), and api() is answered from a table by path.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from _service_helpers import require_node

import siamkit.service

STATIC = Path(siamkit.service.__file__).parent / "static"

# Loads common.js and text.js as text.html does, starts the page (text.js's DOMContentLoaded),
# answers api() from `answers` by path without its query (an answer {"error": text} is thrown as
# the service's refusal), runs `steps` (async page code; `box(id)` is the element), and prints the
# requests sent (but GET /health, /info, /gallery) and the elements named in `show` as trees of
# tag, class, text, title, hidden and children.
HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const [common, page, answers, steps, show] = JSON.parse(fs.readFileSync(0, "utf8"));
function node(tag) {
  const n = {
    tag, textContent: "", className: "", hidden: false, value: "", files: [], dataset: {},
    disabled: false, checked: false, selected: false, title: "", children: [], listeners: {},
    set innerHTML(_) { throw new Error("innerHTML used: server text must go in as text"); },
    append(...c) { this.children.push(...c); },
    replaceChildren(...c) { this.children = c; },
    addEventListener(kind, f) { this.listeners[kind] = f; },
    querySelector(sel) { return this.children.find((c) => "." + c.className === sel) || null; },
    get classList() { return { contains: (c) => n.className.split(" ").includes(c) }; },
  };
  return n;
}
const nodes = {};
const box = (id) => (nodes[id] = nodes[id] || node("div"));
const sent = [];
const handlers = {};
const context = {
  document: { getElementById: box, createElement: (tag) => node(tag), body: node("body"),
              addEventListener: (kind, f) => { handlers[kind] = f; } },
  FormData: class { append() {} }, console, sessionStorage: { getItem: () => null }, box,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(common, "utf8"), context);
vm.runInContext(fs.readFileSync(page, "utf8"), context);
context.fake = async (method, path, body) => {
  const bare = path.split("?")[0];
  if (!["/health", "/info", "/gallery"].includes(bare)) sent.push([method, path, body]);
  const a = answers[bare];
  if (a && a.error) throw new Error(a.error);
  return a;
};
vm.runInContext("api = fake;", context);
const tree = (n) => ({ tag: n.tag, cls: n.className, text: n.textContent, title: n.title,
                       hidden: n.hidden, children: (n.children || []).map(tree) });
(async () => {
  await handlers.DOMContentLoaded();
  await vm.runInContext("(async () => {" + steps + "})()", context);
  const out = { sent };
  for (const id of show) out[id] = tree(box(id));
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { process.stderr.write(String(err.stack || err)); process.exit(1); });
"""

ODD = '<img src=x onerror="alert(1)">.jsonl:3'  # a source is shown as it is, never as markup

# What the text service answers on start: no key, a text model, a gallery of three labels.
START = {
    "/health": {"auth_required": False},
    "/info": {
        "gallery": {"num_items": 3},
        "model": {
            "embedding_dim": 4,
            "distance": "cosine",
            "threshold": 0.3,
            "threshold_source": "calibrated",
            "window_tokens": 128,
            "runtime": "torch",
            "name": None,
        },
    },
    "/gallery": {
        "num_labels": 3,
        "num_items": 3,
        "labels": [
            {"label": label, "count": 1, "text": "a text"} for label in ("printer, 2nd", "vpn", ODD)
        ],
    },
}


def _gallery(labels: dict[str, int], items: int | None, shown: dict[str, Any]) -> dict[str, Any]:
    """GET /gallery's answer: ``labels[label]`` items under each label (``items`` in all, their
    sum unless given), each label shown with ``shown`` (its thumbnail or its text)."""
    return {
        "num_labels": len(labels),
        "num_items": sum(labels.values()) if items is None else items,
        "labels": [{"label": label, "count": n, **shown} for label, n in labels.items()],
    }


def image_start(
    labels: dict[str, int], threshold: float = 0.5, items: int | None = None
) -> dict[str, Any]:
    """What the image service answers on start: no key, an image model (euclidean, 1 x 8 x 8,
    ``threshold``), and a gallery of ``labels`` (as :func:`_gallery`), for the image page
    (app.js) run in the same stand-in DOM."""
    gallery = _gallery(labels, items, {"thumbnail": None})
    return {
        "/health": {"auth_required": False},
        "/info": {
            "gallery": {"num_items": gallery["num_items"]},
            "model": {
                "embedding_dim": 4,
                "distance": "euclidean",
                "threshold": threshold,
                "input_shape": [1, 8, 8],
            },
        },
        "/gallery": gallery,
    }


def text_start(labels: dict[str, int], items: int | None = None) -> dict[str, Any]:
    """:data:`START` with a gallery of ``labels`` instead (as :func:`_gallery`)."""
    return {**START, "/gallery": _gallery(labels, items, {"text": "a text"})}


def run_text_page(answers: dict[str, Any], steps: str, show: list[str]) -> dict[str, Any]:
    """Start the text page against ``answers`` (over :data:`START`), run ``steps``, and return
    the requests sent and the trees of the elements in ``show``."""
    return run_page("text.js", {**START, **answers}, steps, show)


def run_page(script: str, answers: dict[str, Any], steps: str, show: list[str]) -> dict[str, Any]:
    """Start the page of ``script`` (text.js, or app.js: the image page) against ``answers``,
    run ``steps``, and return the requests sent and the trees of the elements in ``show``."""
    node = require_node()
    args = [str(STATIC / "common.js"), str(STATIC / script), answers, steps, show]
    done = subprocess.run(
        [node, "-e", HARNESS], input=json.dumps(args), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def texts(tree: dict[str, Any], cls: str) -> list[dict[str, str]]:
    """The text and title of every node of class ``cls`` in ``tree``."""
    found = [{"text": tree["text"], "title": tree["title"]}] if tree["cls"] == cls else []
    for child in tree["children"]:
        found += texts(child, cls)
    return found
