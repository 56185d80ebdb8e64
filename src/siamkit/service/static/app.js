// siamkit web page: enroll, verify, identify, recommend against the service's JSON API.
// The shared helpers ($, api, el, show, fmt, refresh, startPage...) are in common.js, loaded first.
// Everything the server or the user sends is shown with textContent (never innerHTML).
"use strict";

function thumb(src, alt) {
  if (!src) return el("span", "thumb placeholder", "no image");
  const img = el("img", "thumb");
  img.src = src;  // a data: URL from the server or a blob: URL of a local file
  img.alt = alt;
  return img;
}

function previewFiles(input, target) {
  const box = $(target);
  box.replaceChildren(...Array.from(input.files).slice(0, 12).map(
    (f) => thumb(URL.createObjectURL(f), f.name)));
}

// ---------------------------------------------------------------- enroll
// a face model's answer for a photo of several faces says in `notes` that the largest was used
function notesText(r) {
  return Array.isArray(r.notes) ? r.notes.map((n) => " " + n + ".").join("") : "";
}

async function onEnroll(event) {
  event.preventDefault();
  const label = $("enroll-label").value.trim();
  const files = $("enroll-files").files;
  if (!label || files.length === 0) {
    show("enroll-result", "Give a label and choose at least one image.", "error");
    return;
  }
  const form = new FormData();
  form.append("label", label);
  for (const f of files) form.append("files", f, f.name);
  await busy($("enroll-submit"), async () => {
    try {
      const r = await api("POST", "/enroll", form);
      const total = " (" + counted(r.count, "image") + " in total).";
      if (r.already_enrolled) {
        const which = r.skipped === 1 ? "The image is" : "The " + counted(r.skipped, "image") + " are";
        show("enroll-result", which +
          " already enrolled as \u201c" + r.label + "\u201d: not added again" + total + notesText(r),
          "ok");
      } else {
        const skipped = r.skipped > 0
          ? " Skipped " + counted(r.skipped, "image") + " the label already has (the same " +
            inNumber(r.skipped, "image") + ")." : "";
        show("enroll-result", "Enrolled " + counted(r.item_ids.length, "image") + " as \u201c" +
          r.label + "\u201d" + total + skipped + notesText(r), "ok");
      }
      if (r.item_ids.length > 0) galleryChanged(r.label, false);
      $("enroll-form").reset();
      $("enroll-previews").replaceChildren();
      await refresh();
    } catch (err) { show("enroll-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- verify
function verdictText(r) {
  const against = r.label === null ? "" : " as \u201c" + r.label + "\u201d";
  if (r.same === null) {
    return "Distance " + fmt(r.distance) + against + " (the model has no threshold to decide " +
      "same or different: calibrate it first)";
  }
  return (r.same ? "Same" : "Different") + against + " \u2014 distance " + fmt(r.distance) +
    ", " + marginText(r.margin, r.threshold, r.same);
}

async function onVerify(event) {
  event.preventDefault();
  const current = startVerify();
  const a = $("verify-a").files[0];
  const form = new FormData();
  if (byLabel()) {
    const label = $("verify-label").value;
    if (!a || !label) { show("verify-result", "Choose an image and an enrolled label.", "error"); return; }
    form.append("file", a, a.name);
    form.append("label", label);
  } else {
    const b = $("verify-b").files[0];
    if (!a || !b) { show("verify-result", "Choose two images.", "error"); return; }
    form.append("file_a", a, a.name);
    form.append("file_b", b, b.name);
  }
  await busy($("verify-submit"), async () => {
    try {
      const r = await api("POST", "/verify", form);
      if (!current()) return;  // the label was removed meanwhile: the answer is stale
      const notes = notesText(r);
      show("verify-result", verdictText(r) + (notes ? "." + notes : ""),
        r.same === null ? "" : r.same ? "ok" : "bad");
    } catch (err) { if (current()) show("verify-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- identify
// One match: its thumbnail, rank and label, #ID (the item's, as a label's images list it and the
// Recommend form likes it) and distance, its file if known, and the gallery's actions on its label.
function matchRow(m, rank, threshold) {
  // only a match within the threshold is coloured as accepted
  const state = m.accepted === true ? " accepted" : m.accepted === false ? " rejected" : "";
  const li = el("li", "match" + state);
  li.append(thumb(m.thumbnail, m.label + " #" + m.item_id));
  const text = el("div");
  const name = el("div", "name", rank + ". " + m.label);
  name.title = m.label;  // the whole label: the row cuts a long one with an ellipsis
  text.append(name);
  const verdict = m.accepted === null ? "" : m.accepted ? " \u2014 accepted, " : " \u2014 too far, ";
  text.append(el("div", "dist", "#" + m.item_id + " \u2014 distance " + fmt(m.distance) +
    verdict + marginText(m.margin, threshold, m.accepted)));
  const source = sourceLine(m.source);
  if (source) text.append(source);
  text.append(matchActions(m.label, "images", showLabel));
  li.append(text);
  return li;
}

// A face model's answer for a photo of several faces (faces, largest first): the matches listed
// are the largest face's, so the others are named in words, each by its box's top-left corner
// and its verdict, as /identify's faces give them; "" for one face or another model.
function otherFacesText(r) {
  if (!Array.isArray(r.faces) || r.faces.length < 2) return "";
  const others = r.faces.slice(1).map((f, i) => {
    const who = r.threshold === null ? "not decided"
      : f.label === null ? "unknown" : "\u201c" + f.label + "\u201d";
    const best = f.matches[0];
    const near = !best ? "" : f.label !== null && r.threshold !== null
      ? " (distance " + fmt(best.distance) + ")"
      : " (nearest \u201c" + best.label + "\u201d, distance " + fmt(best.distance) + ")";
    return "face " + (i + 2) + " at (" + f.box.left + ", " + f.box.top + "): " + who + near;
  });
  return " " + r.faces.length + " faces found; the matches below are the largest face's. " +
    "The others, largest first: " + others.join("; ") + ".";
}

async function onIdentify(event) {
  event.preventDefault();
  clearMatches();
  const file = $("identify-file").files[0];
  if (!file) { show("identify-result", "Choose an image.", "error"); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("k", $("identify-k").value || "5");
  await busy($("identify-submit"), async () => {
    try {
      const r = await api("POST", "/identify", form);
      if (r.matches.length === 0) {
        // a face model's photo without a face (faces: []) says so in its hint: not an empty gallery
        const noFace = Array.isArray(r.faces) && r.faces.length === 0;
        show("identify-result", noFace ? r.hint : "The gallery is empty: enroll someone first.", "error");
        return;
      }
      const [verdict, kind] = identifyVerdict(r, (label) => "Identified as \u201c" + label +
        "\u201d.", "Unknown: no enrolled label is close enough.");
      show("identify-result", verdict + otherFacesText(r), kind);
      showMatches(r, "The model has no threshold: these are the nearest labels, none is accepted or refused.", matchRow);
    } catch (err) { show("identify-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- recommend
// One recommended item (POST /recommend): its thumbnail, label, #ID (to like it in turn),
// distance to the nearest liked item, and the file it was enrolled from if known.
function recommendRow(item, rank) {
  const li = el("li", "match");
  li.append(thumb(item.thumbnail, item.label + " #" + item.item_id));
  const text = el("div");
  const name = el("div", "name", rank + ". " + item.label);
  name.title = item.label;  // the whole label: the row cuts a long one with an ellipsis
  text.append(name);
  text.append(el("div", "dist", "#" + item.item_id + " \u2014 distance " + fmt(item.distance)));
  const source = sourceLine(item.source);
  if (source) text.append(source);
  li.append(text);
  return li;
}

// The page's Recommend form sent (common.js's submitRecommend, with this page's rows and words).
function onRecommend(event) {
  return submitRecommend(event, "image", recommendRow, (perLabel, n) => (perLabel
    ? (n === 1 ? "The nearest label, by its nearest image" : "The nearest labels, each by its nearest image")
    : "The nearest " + inNumber(n, "image")) +
    ", nearest first (smaller distance is more alike).");
}

// ---------------------------------------------------------------- gallery + info
function galleryItem(entry) {
  const li = el("li");
  li.append(thumb(entry.thumbnail, entry.label));
  const text = el("div");
  const name = el("div", "name", entry.label);
  name.title = entry.label;  // the whole label: the card cuts a long one with an ellipsis
  text.append(name);
  text.append(el("div", "count", counted(entry.count, "image")));
  text.append(...galleryButtons(entry.label, "images", showLabel));
  li.append(text);
  return li;
}

// One of a label's images (GET /gallery/images): its thumbnail, under it its #ID (as identify's
// matches show it), its file if known and a button that removes this image only.
function labelImage(im, label) {
  const item = el("figure", "item");
  item.append(thumb(im.thumbnail, label + " #" + im.item_id), itemIdLine(im.item_id));
  const source = sourceLine(im.source, "figcaption");
  if (source) item.append(source);
  item.append(itemRemoveButton(im.item_id, label, "image", showLabel));
  return item;
}

async function showLabel(label) {
  $("label-images").hidden = false;
  $("label-images").dataset.label = label;
  $("label-images-title").textContent = "Images of \u201c" + label + "\u201d";
  $("label-images-title").title = label;  // the whole label: the heading cuts a long one
  $("label-images-list").replaceChildren();
  try {
    const r = await api("GET", "/gallery/images?label=" + encodeURIComponent(label));
    $("label-images").dataset.count = r.count;  // every item of the label: the list holds <= 48
    $("label-images-list").replaceChildren(...r.images.map((im) => labelImage(im, label)));
    const missing = r.count - r.images.length;
    $("label-images-note").textContent = counted(r.count, "image") + " enrolled" + (missing > 0
      ? "; " + missing.toLocaleString("en-US") + " without a picture (enrolled through the Python API or by an older siamkit, or beyond the first 48)"
      : "") + ".";
  } catch (err) { $("label-images-note").textContent = err.message; }
}

function describeModel(m) {
  const parts = m.embedding_parts || [];
  const sizes = parts.length > 1
    ? " (" + parts.map((p) => p.dim + " " + p.name).join(" + ") + ")" : "";
  const size = (s) => s.slice(1).join("\u00d7") + " (" + (s[0] === 1 ? "grey" : "colour") + ")";
  const ref = m.reference_input_shape;  // a half-twin's branch g may take another size
  $("model-info").textContent = (m.name ? "Model " + m.name + ": " : "") +
    m.embedding_dim + "-value embeddings" + sizes + ", " + m.distance +
    " distance, threshold " + fmt(m.threshold) + (m.photos_at_own_size
      ? ", photos searched for faces at their own size"
      : ref && ref.join() !== m.input_shape.join()
        ? ", queries resized to " + size(m.input_shape) + ", enrolled and reference images to " +
          size(ref)
        : ", images resized to " + size(m.input_shape));
  $("embedding-info").hidden = parts.length === 0;
  $("embedding-summary").textContent = "Why " + m.embedding_dim + " values?";
  $("embedding-parts").replaceChildren(
    ...parts.map((p) => el("li", "", p.dim + " " + p.name + ": " + p.description)));
}

document.addEventListener("DOMContentLoaded", () => startPage({
  unit: "image",
  pairModeId: "verify-mode-image",
  labelPanelId: "label-images",
  describeModel,
  galleryItem,
  galleryLoaded: fillRecommendLabels,
  onEnroll,
  onVerify,
  onIdentify,
  bind() {
    $("enroll-files").addEventListener("change", (e) => previewFiles(e.target, "enroll-previews"));
    $("verify-a").addEventListener("change", (e) => previewFiles(e.target, "verify-a-preview"));
    $("verify-b").addEventListener("change", (e) => previewFiles(e.target, "verify-b-preview"));
    $("identify-file").addEventListener("change", (e) => previewFiles(e.target, "identify-preview"));
    $("recommend-form").addEventListener("submit", onRecommend);
  },
}));
