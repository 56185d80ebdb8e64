// siamkit web page: enroll, verify, identify against the service's JSON API.
// Everything the server or the user sends is shown with textContent (never innerHTML).
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "siamkit-api-key";

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
    const detail = data && typeof data.detail === "string" ? data.detail : response.statusText;
    throw new Error(detail + " (HTTP " + response.status + ")");
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
async function onVerify(event) {
  event.preventDefault();
  const a = $("verify-a").files[0], b = $("verify-b").files[0];
  if (!a || !b) { show("verify-result", "Choose two images.", "error"); return; }
  const form = new FormData();
  form.append("file_a", a, a.name);
  form.append("file_b", b, b.name);
  await busy($("verify-submit"), async () => {
    try {
      const r = await api("POST", "/verify", form);
      const verdict = r.same === null ? "Distance only (no threshold)"
        : r.same ? "Same" : "Different";
      show("verify-result", verdict + " \u2014 distance " + fmt(r.distance) +
        (r.threshold === null ? "" : ", threshold " + fmt(r.threshold)),
        r.same === null ? "" : r.same ? "ok" : "bad");
    } catch (err) { show("verify-result", err.message, "error"); }
  });
}

// ---------------------------------------------------------------- identify
function matchRow(m, rank) {
  const li = el("li", "match" + (m.accepted ? " accepted" : ""));
  li.append(thumb(m.thumbnail, m.label));
  const text = el("div");
  text.append(el("div", "name", rank + ". " + m.label));
  const verdict = m.accepted === null ? "" : m.accepted ? " \u2014 accepted" : " \u2014 too far";
  text.append(el("div", "dist", "distance " + fmt(m.distance) + verdict));
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
      $("identify-matches").replaceChildren(...r.matches.map((m, i) => matchRow(m, i + 1)));
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

async function refresh() {
  try {
    const [info, gallery] = await Promise.all([api("GET", "/info"), api("GET", "/gallery")]);
    const m = info.model;
    $("model-info").textContent = m.embedding_dim + "-d embeddings, " + m.distance +
      " distance, threshold " + fmt(m.threshold) + ", images resized to " +
      m.input_shape.slice(1).join("\u00d7") + " (" + (m.input_shape[0] === 1 ? "grey" : "colour") + ")";
    $("gallery-count").textContent = "\u2014 " + gallery.num_labels + " label(s), " +
      gallery.num_items + " image(s)";
    $("gallery-list").replaceChildren(...gallery.labels.map(galleryItem));
    $("gallery-empty").hidden = gallery.labels.length > 0;
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
