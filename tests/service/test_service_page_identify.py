"""The web pages' identify verdict. /identify of a model without a threshold names the nearest
label in ``label`` while every match's ``accepted`` is null: the page read that label as an
identity and said 'Identified as "alice"' (the text page 'Most like "alice"') above a legend
saying that nothing is accepted or refused. Without a threshold the verdict now says that
nothing was decided, whatever ``label`` holds (null, once the service leaves it empty too).

The pages' scripts run in Node with a stand-in for the few DOM calls they make."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from _service_helpers import require_node

import siamkit.service

STATIC = Path(siamkit.service.__file__).parent / "static"
NO_THRESHOLD = (
    "Not decided: the model has no threshold, so no label is accepted or refused; the nearest "
    "are listed below."
)

# Loads common.js and the page's script into one context, as the page's <script> tags do, with
# document, FormData and api() stood in for; runs onIdentify once per answer and prints the
# result box's text and class for each.
HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const [common, page, answers, input] = JSON.parse(fs.readFileSync(0, "utf8"));
function node() {
  return { textContent: "", className: "", hidden: false, value: "", files: [], dataset: {},
           disabled: false, title: "", append() {}, replaceChildren() {}, addEventListener() {} };
}
const nodes = {};
const context = {
  document: { getElementById: (id) => (nodes[id] = nodes[id] || node()),
              createElement: () => node(), addEventListener() {} },
  FormData: class { append() {} }, localStorage: { getItem: () => null }, console,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(common, "utf8"), context);
vm.runInContext(fs.readFileSync(page, "utf8"), context);
(async () => {
  const out = [];
  for (const answer of answers) {
    context.answer = answer;
    vm.runInContext("api = async () => answer;", context);
    const box = context.document.getElementById;
    box("identify-file").files = [{ name: "q.png" }];
    box("identify-text").value = input;
    box("identify-k").value = "5";
    await vm.runInContext("onIdentify({ preventDefault() {} })", context);
    out.push([box("identify-result").textContent, box("identify-result").className]);
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


def _verdicts(page: str, answers: list[dict]) -> list[list[str]]:  # type: ignore[type-arg]
    node = require_node()
    args = [str(STATIC / "common.js"), str(STATIC / page), answers, "a printer that jams"]
    done = subprocess.run(
        [node, "-e", HARNESS], input=json.dumps(args), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _answer(threshold: float | None, label: str | None, accepted: bool | None) -> dict:  # type: ignore[type-arg]
    margin = None if threshold is None else threshold - 0.1
    match = {"label": "alice", "distance": 0.1, "item_id": 1, "accepted": accepted,
             "margin": margin, "thumbnail": None, "text": "paper jam"}  # fmt: skip
    return {"threshold": threshold, "label": label, "matches": [match], "chunked": 0}


@pytest.mark.parametrize(
    ("page", "named", "unknown"),
    [
        (
            "app.js",
            "Identified as \u201calice\u201d.",
            "Unknown: no enrolled label is close enough.",
        ),
        ("text.js", "Most like \u201calice\u201d.", "No enrolled label is close enough."),
    ],
)
def test_without_a_threshold_the_page_identifies_no_one(
    page: str, named: str, unknown: str
) -> None:
    answers = [
        _answer(None, "alice", None),  # the nearest label in `label`, as the service answers now
        _answer(None, None, None),  # no label: not "unknown" either, nothing was decided
        _answer(0.5, "alice", True),
        _answer(0.05, None, False),
    ]
    assert _verdicts(page, answers) == [
        [NO_THRESHOLD, "result"],
        [NO_THRESHOLD, "result"],
        [named, "result ok"],
        [unknown, "result bad"],
    ]
