// siamkit web page: enroll, verify, identify against the service's JSON API.
// Everything the server or the user sends is shown with textContent (never innerHTML).
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "siamkit-api-key";
let hasGallery = true;

function apiKey() {
  return $("api-key").value || "";
}

async function api(method, path, body) {
  const headers = {};
  if (apiKey()) headers["X-API-Key"] = apiKey();
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch (err) {
    throw new Error("The service cannot be reached: " + err.message);
  }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    if (response.status === 401) {
      throw new Error("The API key is missing or wrong: enter the service's key at the top right.");
    }
    const detail = data && typeof data.detail === "string" ? data.detail
      : "The service refused the request (" + response.statusText + ").";
    throw new Error(detail);
  }
  return data;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function thumb(src, alt) {
  if (!src) return el("span", "thumb placeholder", "no image");
  const img = el("img", "thumb");
  img.src = src;  // a data: URL from the server or a blob: URL of a local file
  img.alt = alt;
  return img;
}

function show(id, text, kind) {
  const box = $(id);
  box.textContent = text;
  box.className = "result" + (kind ? " " + kind : "");
}

function fmt(x) {
  return x === null || x === undefined ? "none" : Number(x).toFixed(4);
}

// "0.0400 under the threshold 0.2500" (accepted side) or "0.0600 over ..." (rejected side)
function marginText(margin, threshold) {
  if (margin === null || margin === undefined) return "";
  const side = margin >= 0 ? "under" : "over";
  return fmt(Math.abs(margin)) + " " + side + " the threshold " + fmt(threshold);
}

function previewFiles(input, target) {
  const box = $(target);
  box.replaceChildren(...Array.from(input.files).slice(0, 12).map(
    (f) => thumb(URL.createObjectURL(f), f.name)));
}

async function busy(button, work) {
  button.disabled = true;
  try { await work(); } finally { button.disabled = false; }
}

// ---------------------------------------------------------------- enroll
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
      show("enroll-result", "Enrolled " + r.item_ids.length + " image(s) as \u201c" + r.label +
        "\u201d (" + r.count + " in total).", "ok");
      $("enroll-form").reset();
      $("enroll-previews").replaceChildren();
      await refresh();
    } catch (err) { show("enroll-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- verify
function verifyMode() {
  return $("verify-mode-label").checked ? "label" : "image";
}

function onVerifyMode() {
  const byLabel = verifyMode() === "label";
  $("verify-b-box").hidden = byLabel;
  $("verify-label-box").hidden = !byLabel;
}

function verdictText(r) {
  const against = r.label === null ? "" : " as \u201c" + r.label + "\u201d";
  if (r.same === null) {
    return "Distance " + fmt(r.distance) + against + " (the model has no threshold to decide " +
      "same or different: calibrate it first)";
  }
  return (r.same ? "Same" : "Different") + against + " \u2014 distance " + fmt(r.distance) +
    ", " + marginText(r.margin, r.threshold);
}

async function onVerify(event) {
  event.preventDefault();
  const a = $("verify-a").files[0];
  const form = new FormData();
  if (verifyMode() === "label") {
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
      show("verify-result", verdictText(r), r.same === null ? "" : r.same ? "ok" : "bad");
    } catch (err) { show("verify-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- identify
function matchRow(m, rank, threshold) {
  // only a match within the threshold is coloured as accepted
  const state = m.accepted === true ? " accepted" : m.accepted === false ? " rejected" : "";
  const li = el("li", "match" + state);
  li.append(thumb(m.thumbnail, m.label));
  const text = el("div");
  text.append(el("div", "name", rank + ". " + m.label));
  const verdict = m.accepted === null ? "" : m.accepted ? " \u2014 accepted, " : " \u2014 too far, ";
  text.append(el("div", "dist", "distance " + fmt(m.distance) + verdict +
    marginText(m.margin, threshold)));
  li.append(text);
  return li;
}

async function onIdentify(event) {
  event.preventDefault();
  const file = $("identify-file").files[0];
  if (!file) { show("identify-result", "Choose an image.", "error"); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("k", $("identify-k").value || "5");
  await busy($("identify-submit"), async () => {
    $("identify-matches").replaceChildren();
    try {
      const r = await api("POST", "/identify", form);
      if (r.matches.length === 0) {
        show("identify-result", "The gallery is empty: enroll someone first.", "error");
        return;
      }
      if (r.label === null) show("identify-result", "Unknown: no enrolled label is close enough.", "bad");
      else show("identify-result", "Identified as \u201c" + r.label + "\u201d.", "ok");
      $("identify-legend").hidden = false;
      $("identify-legend").textContent = r.threshold === null
        ? "The model has no threshold: these are the nearest labels, none is accepted or refused."
        : "Green: within the threshold " + fmt(r.threshold) + " (accepted). Grey: too far.";
      $("identify-matches").replaceChildren(
        ...r.matches.map((m, i) => matchRow(m, i + 1, r.threshold)));
    } catch (err) { show("identify-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- gallery + info
function galleryItem(entry) {
  const li = el("li");
  li.append(thumb(entry.thumbnail, entry.label));
  const text = el("div");
  text.append(el("div", "name", entry.label));
  text.append(el("div", "count", entry.count + " image" + (entry.count === 1 ? "" : "s")));
  const showImages = el("button", "link show", "images");
  showImages.type = "button";
  showImages.addEventListener("click", () => showLabel(entry.label));
  text.append(showImages);
  const remove = el("button", "link", "remove");
  remove.type = "button";
  remove.addEventListener("click", async () => {
    if (!window.confirm("Remove \u201c" + entry.label + "\u201d and all its images?")) return;
    try {
      await api("DELETE", "/gallery/" + encodeURIComponent(entry.label));
      await refresh();
    } catch (err) { show("enroll-result", err.message, "error"); }
  });
  text.append(remove);
  li.append(text);
  return li;
}

async function showLabel(label) {
  $("label-images").hidden = false;
  $("label-images-title").textContent = "Images of \u201c" + label + "\u201d";
  $("label-images-list").replaceChildren();
  try {
    const r = await api("GET", "/gallery/images?label=" + encodeURIComponent(label));
    $("label-images-list").replaceChildren(
      ...r.images.map((im) => thumb(im.thumbnail, label + " #" + im.item_id)));
    const missing = r.count - r.images.length;
    $("label-images-note").textContent = r.count + " image(s) enrolled" + (missing > 0
      ? "; " + missing + " without a picture (enrolled from the command line, or beyond the first 48)"
      : "") + ".";
  } catch (err) { $("label-images-note").textContent = err.message; }
}

function describeModel(m) {
  const parts = m.embedding_parts || [];
  const sizes = parts.length > 1
    ? " (" + parts.map((p) => p.dim + " " + p.name).join(" + ") + ")" : "";
  $("model-info").textContent = m.embedding_dim + "-value embeddings" + sizes + ", " + m.distance +
    " distance, threshold " + fmt(m.threshold) + ", images resized to " +
    m.input_shape.slice(1).join("\u00d7") + " (" + (m.input_shape[0] === 1 ? "grey" : "colour") + ")";
  $("embedding-info").hidden = parts.length === 0;
  $("embedding-summary").textContent = "Why " + m.embedding_dim + " values?";
  $("embedding-parts").replaceChildren(
    ...parts.map((p) => el("li", "", p.dim + " " + p.name + ": " + p.description)));
}

function showGalleryCards(present) {
  hasGallery = present;
  for (const id of ["enroll-card", "identify-card", "gallery-card"]) $(id).hidden = !present;
  $("verify-mode").hidden = !present;
  if (!present) { $("verify-mode-image").checked = true; onVerifyMode(); }
}

async function refresh() {
  try {
    const info = await api("GET", "/info");
    describeModel(info.model);
    showGalleryCards(info.gallery !== null);
    if (!hasGallery) return;
    const gallery = await api("GET", "/gallery");
    $("gallery-count").textContent = "\u2014 " + gallery.num_labels + " label(s), " +
      gallery.num_items + " image(s)";
    $("gallery-list").replaceChildren(...gallery.labels.map(galleryItem));
    $("gallery-empty").hidden = gallery.labels.length > 0;
    const chosen = $("verify-label").value;
    $("verify-label").replaceChildren(...gallery.labels.map((g) => {
      const option = el("option", "", g.label);
      option.value = g.label;
      return option;
    }));
    if (gallery.labels.some((g) => g.label === chosen)) $("verify-label").value = chosen;
  } catch (err) {
    $("model-info").textContent = err.message;
  }
}

async function start() {
  const health = await api("GET", "/health").catch(() => null);
  const needsKey = Boolean(health && health.auth_required);
  if (needsKey) {
    $("key-box").hidden = false;
    $("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
    $("key-box").addEventListener("submit", (e) => e.preventDefault());
    $("api-key").addEventListener("change", () => {
      sessionStorage.setItem(KEY_STORE, apiKey());
      refresh();
    });
  }
  $("enroll-form").addEventListener("submit", onEnroll);
  $("verify-form").addEventListener("submit", onVerify);
  $("identify-form").addEventListener("submit", onIdentify);
  $("verify-mode-image").addEventListener("change", onVerifyMode);
  $("verify-mode-label").addEventListener("change", onVerifyMode);
  $("enroll-files").addEventListener("change", (e) => previewFiles(e.target, "enroll-previews"));
  $("verify-a").addEventListener("change", (e) => previewFiles(e.target, "verify-a-preview"));
  $("verify-b").addEventListener("change", (e) => previewFiles(e.target, "verify-b-preview"));
  $("identify-file").addEventListener("change", (e) => previewFiles(e.target, "identify-preview"));
  document.body.dataset.ready = "1";
  if (needsKey && !apiKey()) {
    $("model-info").textContent = "This service needs an API key: enter it at the top right.";
  } else {
    await refresh();
  }
}

document.addEventListener("DOMContentLoaded", start);
