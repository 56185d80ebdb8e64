// siamkit web page for a text model: enroll, verify, identify texts against the JSON API.
// Served at / instead of app.js's page when the model takes text (/info: input_kind "text").
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
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
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
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function show(id, text, kind) {
  const box = $(id);
  box.textContent = text;
  box.className = "result" + (kind ? " " + kind : "");
}

function fmt(x) {
  return x === null || x === undefined ? "none" : Number(x).toFixed(4);
}

function marginText(margin, threshold) {
  if (margin === null || margin === undefined) return "";
  const side = margin >= 0 ? "under" : "over";
  return fmt(Math.abs(margin)) + " " + side + " the threshold " + fmt(threshold);
}

function windowNote(chunked) {
  return chunked ? " (long text: embedded as overlapping windows, averaged)" : "";
}

async function busy(button, work) {
  button.disabled = true;
  try { await work(); } finally { button.disabled = false; }
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
  await busy($("enroll-submit"), async () => {
    try {
      const r = await api("POST", "/enroll", { label, texts: [text] });
      show("enroll-result", "Enrolled the text as \u201c" + r.label + "\u201d (" + r.count +
        " text(s) in total).", "ok");
      $("enroll-form").reset();
      await refresh();
    } catch (err) { show("enroll-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- verify
function byLabel() {
  return $("verify-mode-label").checked;
}

function onVerifyMode() {
  $("verify-b-box").hidden = byLabel();
  $("verify-label-box").hidden = !byLabel();
}

async function onVerify(event) {
  event.preventDefault();
  const a = $("verify-a").value;
  let body;
  if (byLabel()) {
    const label = $("verify-label").value;
    if (!a.trim() || !label) { show("verify-result", "Give a text and choose a label.", "error"); return; }
    body = { text: a, label };
  } else {
    const b = $("verify-b").value;
    if (!a.trim() || !b.trim()) { show("verify-result", "Give two texts.", "error"); return; }
    body = { text_a: a, text_b: b };
  }
  await busy($("verify-submit"), async () => {
    try {
      const r = await api("POST", "/verify", body);
      const against = r.label === null ? "" : " as \u201c" + r.label + "\u201d";
      const text = r.same === null
        ? "Distance " + fmt(r.distance) + against + " (no threshold to decide)"
        : (r.same ? "Same" : "Different") + against + " \u2014 similarity " +
          fmt(1 - r.distance) + ", " + marginText(r.margin, r.threshold);
      show("verify-result", text + windowNote(r.chunked), r.same === null ? "" : r.same ? "ok" : "bad");
    } catch (err) { show("verify-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- identify
function matchRow(m, rank, threshold) {
  const state = m.accepted === true ? " accepted" : m.accepted === false ? " rejected" : "";
  const li = el("li", "match" + state);
  const box = el("div");
  box.append(el("div", "name", rank + ". " + m.label));
  const verdict = m.accepted === null ? "" : m.accepted ? " \u2014 accepted, " : " \u2014 too far, ";
  box.append(el("div", "dist", "similarity " + fmt(1 - m.distance) + verdict +
    marginText(m.margin, threshold)));
  box.append(el("div", "snippet", m.text === null ? "(text not kept: enrolled outside the service)" : m.text));
  li.append(box);
  return li;
}

async function onIdentify(event) {
  event.preventDefault();
  const text = $("identify-text").value;
  if (!text.trim()) { show("identify-result", "Give a text.", "error"); return; }
  const k = parseInt($("identify-k").value || "5", 10);
  await busy($("identify-submit"), async () => {
    $("identify-matches").replaceChildren();
    try {
      const r = await api("POST", "/identify", { text, k });
      if (r.matches.length === 0) {
        show("identify-result", "The gallery is empty: enroll a text first.", "error");
        return;
      }
      if (r.label === null) show("identify-result", "No enrolled label is close enough." + windowNote(r.chunked), "bad");
      else show("identify-result", "Most like \u201c" + r.label + "\u201d." + windowNote(r.chunked), "ok");
      $("identify-legend").hidden = false;
      $("identify-legend").textContent = r.threshold === null
        ? "No threshold: these are the nearest labels, none is accepted or refused."
        : "Green: within the threshold " + fmt(r.threshold) + " (accepted). Grey: too far.";
      $("identify-matches").replaceChildren(
        ...r.matches.map((m, i) => matchRow(m, i + 1, r.threshold)));
    } catch (err) { show("identify-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- gallery + info
function galleryItem(entry) {
  const li = el("li");
  li.append(el("div", "name", entry.label));
  li.append(el("div", "count", entry.count + " text" + (entry.count === 1 ? "" : "s")));
  if (entry.text !== null) li.append(el("div", "snippet", entry.text));
  const showTexts = el("button", "link show", "texts");
  showTexts.type = "button";
  showTexts.addEventListener("click", () => showLabel(entry.label));
  li.append(showTexts);
  const remove = el("button", "link", "remove");
  remove.type = "button";
  remove.addEventListener("click", async () => {
    if (!window.confirm("Remove \u201c" + entry.label + "\u201d and all its texts?")) return;
    try {
      await api("DELETE", "/gallery/" + encodeURIComponent(entry.label));
      await refresh();
    } catch (err) { show("enroll-result", err.message, "error"); }
  });
  li.append(remove);
  return li;
}

async function showLabel(label) {
  $("label-texts").hidden = false;
  $("label-texts-title").textContent = "Texts of \u201c" + label + "\u201d";
  $("label-texts-list").replaceChildren();
  try {
    const r = await api("GET", "/gallery/images?label=" + encodeURIComponent(label));
    $("label-texts-list").replaceChildren(
      ...r.items.map((it) => el("li", "snippet", it.text)));
    const missing = r.count - r.items.length;
    $("label-texts-note").textContent = r.count + " text(s) enrolled" + (missing > 0
      ? "; " + missing + " not kept (enrolled outside the service, or beyond the first 48)" : "") + ".";
  } catch (err) { $("label-texts-note").textContent = err.message; }
}

function describeModel(m) {
  const threshold = m.threshold === null ? "no threshold"
    : "same at similarity \u2265 " + fmt(1 - m.threshold) + " (" + m.threshold_source + ")";
  $("model-info").textContent = "Text model: " + m.embedding_dim + "-value embeddings, " +
    m.distance + " distance, " + threshold + "; windows of " + m.window_tokens + " tokens.";
}

function showGalleryCards(present) {
  hasGallery = present;
  for (const id of ["enroll-card", "identify-card", "gallery-card"]) $(id).hidden = !present;
  $("verify-mode").hidden = !present;
  if (!present) { $("verify-mode-text").checked = true; onVerifyMode(); }
}

async function refresh() {
  try {
    const info = await api("GET", "/info");
    describeModel(info.model);
    showGalleryCards(info.gallery !== null);
    if (!hasGallery) return;
    const gallery = await api("GET", "/gallery");
    $("gallery-count").textContent = "\u2014 " + gallery.num_labels + " label(s), " +
      gallery.num_items + " text(s)";
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
  $("verify-mode-text").addEventListener("change", onVerifyMode);
  $("verify-mode-label").addEventListener("change", onVerifyMode);
  document.body.dataset.ready = "1";
  if (needsKey && !apiKey()) {
    $("model-info").textContent = "This service needs an API key: enter it at the top right.";
  } else {
    await refresh();
  }
}

document.addEventListener("DOMContentLoaded", start);
