// siamkit web page for a text model: enroll, verify, identify, recommend texts against the JSON API.
// Served at / instead of app.js's page when the model takes text (/info: input_kind "text").
// The shared helpers ($, api, el, show, fmt, refresh, startPage...) are in common.js, loaded first.
// Everything the server or the user sends is shown with textContent (never innerHTML).
"use strict";

// While a request is out, its result box says so: the last answer there (another text's) would
// read as this one's, and a long text takes seconds to embed with the button merely greyed.
const WORKING = "Embedding the text\u2026 (a long text takes a few seconds)";

function windowNote(chunked) {
  return chunked ? " (long text: embedded as overlapping windows, averaged)" : "";
}

// The margin to the threshold on the page's scale, similarity (1 - distance), as the model line
// words the threshold: "0.1088 above the similarity threshold 0.7200". The API's margin
// (threshold - distance) is also similarity - (1 - threshold). The side is the server's verdict
// (`accepted`), as in marginText: a similarity up to 1e-5 (float32 rounding) under the threshold
// is accepted, and reads "at the similarity threshold".
function similarityMargin(margin, threshold, accepted) {
  if (margin === null || margin === undefined) return "";
  const above = accepted === true || accepted === false ? accepted : margin >= 0;
  if (above && margin < 0) {
    return "at the similarity threshold " + fmt(1 - threshold) + " (within rounding)";
  }
  return fmt(Math.abs(margin)) + " " + (above ? "above" : "below") + " the similarity threshold " +
    fmt(1 - threshold);
}

// ---------------------------------------------------------------- enroll
async function onEnroll(event) {
  event.preventDefault();
  const label = $("enroll-label").value.trim();
  const text = $("enroll-text").value;
  if (!label || !text.trim()) {
    show("enroll-result", "Give a label and a text.", "error");
    return;
  }
  show("enroll-result", WORKING);
  await busy($("enroll-submit"), async () => {
    try {
      const r = await api("POST", "/enroll", { label, texts: [text] });
      const done = r.skipped > 0
        ? "The text is already enrolled as \u201c" + r.label + "\u201d: not added again ("
        : "Enrolled the text as \u201c" + r.label + "\u201d (";
      show("enroll-result", done + counted(r.count, "text") + " in total).", "ok");
      if (r.item_ids.length > 0) galleryChanged(r.label, false);
      $("enroll-form").reset();
      await refresh();
    } catch (err) { show("enroll-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- verify
// /info's threshold (the model line's). /verify of two texts of several sentences each holds
// them to the document threshold instead, as siamkit text similarity and text dedup do; its
// answer's threshold then differs, and the result says why
let modelThreshold = null;

function documentNote(r) {
  return r.label === null && r.threshold !== null && modelThreshold !== null &&
    r.threshold !== modelThreshold
    ? " (both texts hold several sentences: compared as documents, at the document threshold)"
    : "";
}

async function onVerify(event) {
  event.preventDefault();
  const current = startVerify();
  const a = $("verify-a").value;
  let body;
  if (byLabel()) {
    const label = $("verify-label").value;
    if (!a.trim()) { show("verify-result", "Give a text.", "error"); return; }
    if (!label) {  // the list is empty: there is no label to choose
      show("verify-result", "Nothing is enrolled yet: enroll a text under a label first, or " +
        "compare with a second text.", "error");
      return;
    }
    body = { text: a, label };
  } else {
    const b = $("verify-b").value;
    if (!a.trim() || !b.trim()) { show("verify-result", "Give two texts.", "error"); return; }
    body = { text_a: a, text_b: b };
  }
  show("verify-result", WORKING.replace("the text", byLabel() ? "the text" : "the two texts"));
  await busy($("verify-submit"), async () => {
    try {
      const r = await api("POST", "/verify", body);
      if (!current()) return;  // the label was removed meanwhile: the answer is stale
      const against = r.label === null ? "" : " as \u201c" + r.label + "\u201d";
      const text = r.same === null
        ? "Distance " + fmt(r.distance) + against + " (no threshold to decide)"
        : (r.same ? "Same" : "Different") + against + " \u2014 similarity " +
          fmt(1 - r.distance) + ", " + similarityMargin(r.margin, r.threshold, r.same);
      // the model's score map: the similarity on the scale of the scores it was fine-tuned on
      const score = r.score === null || r.score === undefined
        ? "" : "; score " + fmt(r.score) + " on the fine-tuning scores' scale";
      show("verify-result", text + documentNote(r) + score + windowNote(r.chunked),
        r.same === null ? "" : r.same ? "ok" : "bad");
    } catch (err) {
      if (!current()) return;
      if (err.status === 404 && body.label !== undefined) {
        // removed since this page listed it (another tab, the CLI): say so, and list the labels
        // the gallery holds now instead of the service's API wording ("POST /enroll ...")
        show("verify-result", "\u201c" + body.label + "\u201d is no longer enrolled (removed " +
          "since this page listed it); the gallery below is updated.", "error");
        await refresh();
      } else show("verify-result", err.message, "error");
    }
  });
}

// ---------------------------------------------------------------- identify
// One match: its rank and label, #ID (the item's, as a label's texts list it and the Recommend
// form likes it) and similarity, its text and source, and the gallery's actions on its label.
function matchRow(m, rank, threshold) {
  const state = m.accepted === true ? " accepted" : m.accepted === false ? " rejected" : "";
  const li = el("li", "match" + state);
  const box = el("div");
  const name = el("div", "name", rank + ". " + m.label);
  name.title = m.label;  // the whole label: the row cuts a long one with an ellipsis
  box.append(name);
  const verdict = m.accepted === null ? "" : m.accepted ? " \u2014 accepted, " : " \u2014 too far, ";
  box.append(el("div", "dist", "#" + m.item_id + " \u2014 similarity " + fmt(1 - m.distance) +
    verdict + similarityMargin(m.margin, threshold, m.accepted)));
  box.append(snippet(m.text));
  const source = sourceLine(m.source);  // "from tickets.jsonl:3"; nothing when unknown
  if (source) box.append(source);
  box.append(matchActions(m.label, "texts", showLabel));
  li.append(box);
  return li;
}

// A matched or recommended item's text (its first characters), or why there is none.
function snippet(text) {
  return el("div", "snippet", text === null || text === undefined
    ? "(text not kept: enrolled outside the service)" : text);
}

async function onIdentify(event) {
  event.preventDefault();
  clearMatches();
  const text = $("identify-text").value;
  if (!text.trim()) { show("identify-result", "Give a text.", "error"); return; }
  const k = Number($("identify-k").value || "5");  // 2.5 goes to the service, which refuses it, as on the image page
  show("identify-result", WORKING);
  await busy($("identify-submit"), async () => {
    try {
      const r = await api("POST", "/identify", { text, k });
      if (r.matches.length === 0) {
        show("identify-result", "The gallery is empty: enroll a text first.", "error");
        return;
      }
      const [verdict, kind] = identifyVerdict(r, (label) => "Most like \u201c" + label + "\u201d.",
        "No enrolled label is close enough.");
      show("identify-result", verdict + windowNote(r.chunked), kind);
      showMatches(r, "No threshold: these are the nearest labels, none is accepted or refused.",
        matchRow, (t) => "Green: similarity at or above " + fmt(1 - t) + " within rounding (accepted). " +
          "Grey: too far.");
    } catch (err) { show("identify-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- recommend
// One recommended text (POST /recommend): its label, #ID (to like it in turn), similarity to the
// nearest liked text (1 - the distance, the page's scale), the text, and its source if known.
function recommendRow(item, rank) {
  const li = el("li", "match");
  const box = el("div");
  const name = el("div", "name", rank + ". " + item.label);
  name.title = item.label;  // the whole label: the row cuts a long one with an ellipsis
  box.append(name);
  box.append(el("div", "dist", "#" + item.item_id + " \u2014 similarity " +
    fmt(1 - item.distance)));
  box.append(snippet(item.text));
  const source = sourceLine(item.source);
  if (source) box.append(source);
  li.append(box);
  return li;
}

// The page's Recommend form sent (common.js's submitRecommend, with this page's rows and words).
function onRecommend(event) {
  return submitRecommend(event, "text", recommendRow, (perLabel, n) => (perLabel
    ? (n === 1 ? "The most similar label, by its most similar text"
      : "The most similar labels, each by its most similar text")
    : "The most similar " + inNumber(n, "text")) +
    ", most similar first.");
}

// ---------------------------------------------------------------- gallery + info
function galleryItem(entry) {
  const li = el("li");
  const name = el("div", "name", entry.label);
  name.title = entry.label;  // the whole label: the card cuts a long one with an ellipsis
  li.append(name);
  li.append(el("div", "count", counted(entry.count, "text")));
  if (entry.text !== null) li.append(el("div", "snippet", entry.text));
  li.append(...galleryButtons(entry.label, "texts", showLabel));
  return li;
}

// One of label's texts (GET /gallery/images): its #ID (as identify's matches show it), the
// text, under it its source if known, and a button that removes this text only.
function labelText(item, label) {
  const li = el("li");
  li.append(itemIdLine(item.item_id), el("div", "snippet", item.text));
  const source = sourceLine(item.source);
  if (source) li.append(source);
  li.append(itemRemoveButton(item.item_id, label, "text", showLabel));
  return li;
}

async function showLabel(label) {
  $("label-texts").hidden = false;
  $("label-texts").dataset.label = label;
  $("label-texts-title").textContent = "Texts of \u201c" + label + "\u201d";
  $("label-texts-title").title = label;  // the whole label: the heading cuts a long one
  $("label-texts-list").replaceChildren();
  try {
    const r = await api("GET", "/gallery/images?label=" + encodeURIComponent(label));
    $("label-texts").dataset.count = r.count;  // every item of the label: the list holds <= 48
    $("label-texts-list").replaceChildren(...r.items.map((item) => labelText(item, label)));
    const missing = r.count - r.items.length;
    $("label-texts-note").textContent = counted(r.count, "text") + " enrolled" + (missing > 0
      ? "; " + missing.toLocaleString("en-US") + " not kept (enrolled outside the service, or beyond the first 48)" : "") + ".";
  } catch (err) { $("label-texts-note").textContent = err.message; }
}

// /info's runtime on the model line: the int8 export's similarities differ slightly from the
// PyTorch model's (siamkit text similarity's), which the line says, as it says which one this is
const RUNTIMES = {
  "onnx": "; run by ONNX Runtime (fp32)",
  "onnx-int8": "; run by ONNX Runtime in int8 (similarities differ slightly from PyTorch's)",
};

function describeModel(m) {
  modelThreshold = m.threshold;
  const threshold = m.threshold === null ? "no threshold"
    : "same at similarity \u2265 " + fmt(1 - m.threshold) + " (" + m.threshold_source + ")";
  $("model-info").textContent = "Text model" + (m.name ? " " + m.name : "") + ": " +
    m.embedding_dim + "-value embeddings, " +
    m.distance + " distance, " + threshold + "; windows of " + m.window_tokens + " tokens" +
    (RUNTIMES[m.runtime] || "") + ".";
}

document.addEventListener("DOMContentLoaded", () => startPage({
  unit: "text",
  pairModeId: "verify-mode-text",
  labelPanelId: "label-texts",
  describeModel,
  galleryItem,
  galleryLoaded: fillRecommendLabels,
  onEnroll,
  onVerify,
  onIdentify,
  bind() {
    $("recommend-form").addEventListener("submit", onRecommend);
  },
}));
