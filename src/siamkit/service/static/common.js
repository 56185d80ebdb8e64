// Helpers shared by the two web pages: app.js (image models) and text.js (text models).
// Loaded before the page's own script (index.html, text.html); the page calls startPage().
// Everything the server or the user sends is shown with textContent (never innerHTML).
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "siamkit-api-key";
let hasGallery = true;
let currentPage = null;  // the page's description given to startPage()

function apiKey() {
  return $("api-key").value || "";
}

// A FormData body (image uploads) is sent as is; any other body as JSON.
async function api(method, path, body) {
  const headers = {};
  if (apiKey()) headers["X-API-Key"] = apiKey();
  const json = body !== undefined && !(body instanceof FormData);
  if (json) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: json ? JSON.stringify(body) : body });
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
    const error = new Error(detail);
    error.status = response.status;  // a page may word a refusal of its own request itself
    throw error;
  }
  return data;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// The file an item was enrolled from, as text in one line cut with an ellipsis, the whole in the
// title: siamkit enroll's path or /enroll's upload name (images), siamkit text enroll's file or
// FILE:LINE or /enroll's source (texts). null when the service knows none (or sends no source).
function sourceLine(source, tag) {
  if (!source) return null;
  const line = el(tag || "div", "source", "from " + source);
  line.title = source;
  return line;
}

function show(id, text, kind) {
  const box = $(id);
  box.textContent = text;
  box.className = "result" + (kind ? " " + kind : "");
}

// A count in the number it takes, as the Python messages write one (siamkit.clauses.counted):
// counted(1, "image") is "1 image", counted(1234, "image") "1,234 images"; plural: a noun's
// plural that takes no bare s. inNumber: the noun alone, in the number n gives it.
function inNumber(n, noun, plural) {
  return n === 1 ? noun : (plural || noun + "s");
}

function counted(n, noun, plural) {
  return Number(n).toLocaleString("en-US") + " " + inNumber(n, noun, plural);
}

function fmt(x) {
  return x === null || x === undefined ? "none" : Number(x).toFixed(4);
}

// "0.0400 under the threshold 0.2500" (accepted side) or "0.0600 over ..." (rejected side). The
// side is the server's verdict (`accepted`: /verify's same, a match's accepted), not the margin's
// sign: the model accepts a distance up to 1e-5 (float32 rounding; 16 float32 steps' worth of a
// threshold beyond 5.24, decision.room) over its threshold, which
// reads "at the threshold", never "0.0000 over" beside "Same".
function marginText(margin, threshold, accepted) {
  if (margin === null || margin === undefined) return "";
  const under = accepted === true || accepted === false ? accepted : margin >= 0;
  if (under && margin < 0) return "at the threshold " + fmt(threshold) + " (within rounding)";
  return fmt(Math.abs(margin)) + " " + (under ? "under" : "over") + " the threshold " + fmt(threshold);
}

async function busy(button, work) {
  button.disabled = true;
  try { await work(); } finally { button.disabled = false; }
}

function byLabel() {
  return $("verify-mode-label").checked;
}

function onVerifyMode() {
  $("verify-b-box").hidden = byLabel();
  $("verify-label-box").hidden = !byLabel();
}

// Before each identify: no list or legend of an earlier query stays under a new error.
function clearMatches() {
  $("identify-matches").replaceChildren();
  $("identify-legend").hidden = true;
}

// How many times each label was removed since the page loaded (galleryChanged).
const labelRemovals = new Map();

function removalsOf(label) {
  return labelRemovals.get(label) || 0;
}

// Before each verify: the label it is against ("" for two images or texts), so that its answer
// is cleared when that label is removed (galleryChanged). Returns current(): false once the label
// was removed after this verify was sent; its answer, arriving later, is then dropped, not shown
// (it names the removed label). An enroll into the label leaves it to come.
function startVerify() {
  const label = byLabel() ? $("verify-label").value : "";
  $("verify-result").dataset.label = label;
  const sent = removalsOf(label);
  return () => label === "" || removalsOf(label) === sent;
}

// After label was enrolled into or removed, answers given on the gallery before are stale. A
// removal clears the identify answer (it may name the removed label), a verify against the label
// and the last enroll message. An enroll leaves an identify answer in its own box, saying it came
// before the enroll (identifyGivenBefore), and a verify answer against the label in its own
// (verifyGivenBefore); the other words of either box go. A verify of two images or texts stays.
function galleryChanged(label, removed) {
  if (removed) labelRemovals.set(label, removalsOf(label) + 1);
  if (removed || !identifyGivenBefore(label)) {
    clearMatches();
    show("identify-result", "");
  }
  if ($("verify-result").dataset.label === label && (removed || !verifyGivenBefore(label))) {
    show("verify-result", "");
    $("verify-result").dataset.label = "";
  }
  if (removed) show("enroll-result", "");
  if ($("recommend-items")) recommendChanged(removed);
}

// ---------------------------------------------------------------- recommend (both pages)
// The labels chosen in the list of enrolled ones (all their items are liked).
function likedLabels() {
  return Array.from($("recommend-labels").children).filter((o) => o.selected).map((o) => o.value);
}

// After the gallery was read (refresh): its labels to choose from, those chosen kept chosen.
function fillRecommendLabels(gallery) {
  const chosen = new Set(likedLabels());
  $("recommend-labels").replaceChildren(...gallery.labels.map((g) => {
    const option = el("option", "", g.label);
    option.value = g.label;
    option.selected = chosen.has(g.label);
    return option;
  }));
}

// The items typed by #ID ("#12 #40", "12, 40"), as "#12" for /recommend; throws naming the
// first word that is no #ID. noun: what the page's items are ("image", "text").
function likedIds(text, noun) {
  return text.split(/[\s,]+/).filter((w) => w !== "").map((word) => {
    if (!/^#?[0-9]+$/.test(word)) {
      throw new Error("\u201c" + word + "\u201d is no #ID: type " + noun + " numbers such as " +
        "#12 (the #ID each recommendation shows), or choose labels in the list.");
    }
    return "#" + word.replace(/^#/, "");
  });
}

// The Recommend form sent: the liked labels and #IDs to POST /recommend, each answer's item
// drawn by the page's row(item, rank), and summary(perLabel, number of items) said above them.
async function submitRecommend(event, noun, row, summary) {
  event.preventDefault();
  $("recommend-items").replaceChildren();
  let like;
  try {
    like = likedLabels().concat(likedIds($("recommend-ids").value, noun));
  } catch (err) { show("recommend-result", err.message, "error"); return; }
  if (like.length === 0) {
    show("recommend-result", "Choose at least one liked label, or type #ID for one " + noun + ".",
      "error");
    return;
  }
  const perLabel = $("recommend-per-label").checked;
  const k = $("recommend-k").value.trim();
  const body = { like, per_label: perLabel };
  if (k !== "") body.k = Number(k);  // a k the service refuses is said in its words
  show("recommend-result", "");
  await busy($("recommend-submit"), async () => {
    try {
      const r = await api("POST", "/recommend", body);
      $("recommend-items").replaceChildren(...r.items.map((item, i) => row(item, i + 1)));
      if (r.items.length === 0) {
        show("recommend-result", "Nothing to recommend: every " + (perLabel ? "label" : noun) +
          " in the gallery is liked.", "bad");
      } else {
        show("recommend-result", summary(perLabel, r.items.length), "");
      }
    } catch (err) { show("recommend-result", err.message, "error"); }
  });
}

// After the gallery changed, recommendations given before: a removal clears them (they may name
// the removed label); after an enroll they stay with a line saying so (the new items may rank).
function recommendChanged(removed) {
  if ($("recommend-submit").disabled || $("recommend-items").children.length === 0) return;
  if (removed) {
    $("recommend-items").replaceChildren();
    show("recommend-result", "");
    return;
  }
  const box = $("recommend-result");
  if (!box.querySelector(".given-before")) box.append(el("span", "given-before"));
  box.querySelector(".given-before").textContent = "Given before more " + currentPage.unit +
    "s were enrolled: recommend again to rank them too.";
}

// After more of label was enrolled: a verify answer against it (same, different, or a distance)
// stays, with a line saying it came before (its distance is to the images or texts the label
// held then); a verify still out keeps saying so, its answer comes. Returns false when the box
// holds neither (a message such as the label not being enrolled, which the enroll made wrong).
function verifyGivenBefore(label) {
  if ($("verify-submit").disabled) return true;
  const box = $("verify-result");
  if (box.textContent === "" || box.classList.contains("error")) return false;
  if (!box.querySelector(".given-before")) box.append(el("span", "given-before"));
  box.querySelector(".given-before").textContent = "Given before more " + currentPage.unit +
    "s of \u201c" + label + "\u201d were enrolled: verify again to compare with them too.";
  return true;
}

// After label was enrolled: an identify answer (its ranked matches are listed) stays, with a line
// naming the labels enrolled since (a later identify would rank them too); an identify still out
// keeps saying so, its answer comes. Returns false when the box holds neither (a message such as
// "The gallery is empty", which the enroll made wrong).
function identifyGivenBefore(label) {
  if ($("identify-submit").disabled) return true;
  if ($("identify-matches").children.length === 0) return false;
  const box = $("identify-result");
  let note = box.querySelector(".given-before");
  if (!note) {
    note = el("span", "given-before");
    note.dataset.labels = "[]";
    box.append(note);
  }
  const labels = JSON.parse(note.dataset.labels).filter((l) => l !== label).concat([label]);
  note.dataset.labels = JSON.stringify(labels);
  note.textContent = "Given before " + labels.map((l) => "\u201c" + l + "\u201d").join(", ") +
    (labels.length === 1 ? " was" : " were") + " enrolled: identify again to rank " +
    (labels.length === 1 ? "it" : "them") + " too.";
  return true;
}

// /identify's verdict on its answer r, as [text, kind] for show(). Without a threshold nothing is
// accepted or refused, so nothing is identified, whatever r.label holds (the service named the
// nearest label there, which read as an identity); named(label) words an accepted label,
// unknown the answer when no label is close enough.
function identifyVerdict(r, named, unknown) {
  if (r.threshold === null) {
    return ["Not decided: the model has no threshold, so no label is accepted or refused; the " +
      "nearest are listed below.", ""];
  }
  return r.label === null ? [unknown, "bad"] : [named(r.label), "ok"];
}

// /identify's answer r as a legend and a ranked list; matchRow(m, rank, threshold) draws one row;
// thresholdLegend(threshold), optional, words the legend on the page's own scale (the text page's
// similarities).
function showMatches(r, noThresholdLegend, matchRow, thresholdLegend) {
  $("identify-legend").hidden = false;
  $("identify-legend").textContent = r.threshold === null
    ? noThresholdLegend
    : thresholdLegend ? thresholdLegend(r.threshold)
    : "Green: within the threshold " + fmt(r.threshold) + " (accepted). Grey: too far.";
  $("identify-matches").replaceChildren(
    ...r.matches.map((m, i) => matchRow(m, i + 1, r.threshold)));
}

// A gallery entry's two buttons: list the label's items (units: "images" / "texts"), remove it;
// a refusal of the removal is said in the box resultId (the enroll form's unless given).
function galleryButtons(label, units, showLabel, resultId) {
  const showItems = el("button", "link show", units);
  showItems.type = "button";
  showItems.addEventListener("click", () => showLabel(label));
  const remove = el("button", "link", "remove");
  remove.type = "button";
  remove.addEventListener("click", async () => {
    if (!window.confirm("Remove \u201c" + label + "\u201d and all its " + units + "?")) return;
    try {
      await api("DELETE", "/gallery/" + encodeURIComponent(label));
      galleryChanged(label, true);
      // the removed label's items, if listed, are gone: close the list (page.labelPanelId)
      const panel = $(currentPage.labelPanelId);
      if (panel.dataset.label === label) panel.hidden = true;
      await refresh();
    } catch (err) { show(resultId || "enroll-result", err.message, "error"); }
  });
  return [showItems, remove];
}

// An identify match's actions, under its text as under a gallery card's: list the label's items
// (the list opens in the gallery card, brought into view, each item with its #ID) and remove the
// label, so that a wrong match can be looked at and acted on where it is shown.
function matchActions(label, units, showLabel) {
  const box = el("div", "actions");
  box.append(...galleryButtons(label, units, (l) => {
    const listed = showLabel(l);
    const panel = $(currentPage.labelPanelId);
    if (panel.scrollIntoView) panel.scrollIntoView({ block: "nearest" });
    return listed;
  }, "identify-result"));
  return box;
}

// A listed item's remove button (unit: "image" / "text"), in its label's list (the page's
// labelPanelId; showLabel lists it again): after the page's usual confirm, DELETE
// /gallery/items/{id} removes this one image or text, not the label. Answers that may name the
// item go, as after a label's removal; the list is shown again without it, or closed when the
// label has nothing left (it left the gallery). The confirm counts what the label keeps by the
// label's count that showLabel keeps on the panel (the list shows only items with a thumbnail or
// text, and at most 48): its last item takes the label out of the gallery.
function itemRemoveButton(itemId, label, unit, showLabel) {
  const what = unit + " #" + itemId + " of \u201c" + label + "\u201d";
  const remove = el("button", "link item-remove", "remove");
  remove.type = "button";
  remove.title = "Remove " + what;
  remove.addEventListener("click", async () => {
    const left = Number($(currentPage.labelPanelId).dataset.count) - 1;
    const keeps = left <= 0
      ? "It is the label\u2019s last " + unit + ": the label leaves the gallery."
      : "The label keeps its other " + (left === 1 ? unit : counted(left, unit)) + ".";
    if (!window.confirm("Remove " + what + "? " + keeps)) return;
    const panel = $(currentPage.labelPanelId);
    try {
      const r = await api("DELETE", "/gallery/items/" + itemId);
      galleryChanged(r.label, true);
      if (panel.dataset.label === r.label) {
        if (r.label_count === 0) panel.hidden = true;
        else await showLabel(r.label);
      }
      await refresh();
    } catch (err) { $(currentPage.labelPanelId + "-note").textContent = err.message; }
  });
  return remove;
}

// An item's #ID as the service numbers it (/identify's item_id, /gallery/images', /recommend's):
// what the Recommend form's liked #IDs take.
function itemIdLine(itemId) {
  return el("div", "item-id", "#" + itemId);
}

function showGalleryCards(present) {
  hasGallery = present;
  for (const id of ["enroll-card", "identify-card", "gallery-card"]) $(id).hidden = !present;
  if ($("recommend-card")) $("recommend-card").hidden = !present;
  $("verify-mode").hidden = !present;
  if (!present) { $(currentPage.pairModeId).checked = true; onVerifyMode(); }
}

async function refresh() {
  try {
    const info = await api("GET", "/info");
    currentPage.describeModel(info.model);
    showGalleryCards(info.gallery !== null);
    if (!hasGallery) return;
    const gallery = await api("GET", "/gallery");
    $("gallery-count").textContent = "\u2014 " + counted(gallery.num_labels, "label") + ", " +
      counted(gallery.num_items, currentPage.unit);
    $("gallery-list").replaceChildren(...gallery.labels.map(currentPage.galleryItem));
    $("gallery-empty").hidden = gallery.labels.length > 0;
    const chosen = $("verify-label").value;
    $("verify-label").replaceChildren(...gallery.labels.map((g) => {
      const option = el("option", "", g.label);
      option.value = g.label;
      return option;
    }));
    if (gallery.labels.some((g) => g.label === chosen)) $("verify-label").value = chosen;
    if (currentPage.galleryLoaded) currentPage.galleryLoaded(gallery);
  } catch (err) {
    $("model-info").textContent = err.message;
  }
}

// page: { unit ("image" / "text"), pairModeId (the radio for "a second image/text"),
//         labelPanelId (the list of a label's items; its data-label names the label shown),
//         describeModel(model), galleryItem(entry), onEnroll, onVerify, onIdentify,
//         galleryLoaded(gallery) (GET /gallery's answer, after each refresh; optional),
//         bind() (the page's other listeners, optional) }
async function startPage(page) {
  currentPage = page;
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
  $("enroll-form").addEventListener("submit", page.onEnroll);
  $("verify-form").addEventListener("submit", page.onVerify);
  $("identify-form").addEventListener("submit", page.onIdentify);
  $(page.pairModeId).addEventListener("change", onVerifyMode);
  $("verify-mode-label").addEventListener("change", onVerifyMode);
  if (page.bind) page.bind();
  document.body.dataset.ready = "1";
  if (needsKey && !apiKey()) {
    $("model-info").textContent = "This service needs an API key: enter it at the top right.";
  } else {
    await refresh();
  }
}
