// Offline API reference: renders /openapi.json with textContent only (no CDN, no innerHTML).
"use strict";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return spec.components.schemas[name] || {};
  }
  return schema || {};
}

function typeOf(spec, schema) {
  if (schema && schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf) return schema.anyOf.map((s) => typeOf(spec, s)).join(" | ");
  if (schema.type === "array") return typeOf(spec, schema.items) + "[]";
  if (schema.format === "binary" || schema.contentMediaType) return "file";
  return schema.type || schema.title || "object";
}

function table(headers, rows) {
  const t = el("table");
  const head = el("tr");
  headers.forEach((h) => head.append(el("th", "", h)));
  t.append(head);
  rows.forEach((r) => {
    const tr = el("tr");
    r.forEach((c) => tr.append(el("td", "", c)));
    t.append(tr);
  });
  return t;
}

function fieldRows(spec, op) {
  const rows = (op.parameters || []).map((p) =>
    [p.name + " (" + p.in + ")", typeOf(spec, p.schema), p.required ? "yes" : "no", p.description || ""]);
  const content = op.requestBody && op.requestBody.content;
  if (content) {
    const media = Object.keys(content)[0];
    const schema = resolve(spec, content[media].schema);
    const required = schema.required || [];
    Object.entries(schema.properties || {}).forEach(([name, prop]) => rows.push(
      [name + " (" + media + ")", typeOf(spec, prop), required.includes(name) ? "yes" : "no",
        resolve(spec, prop).description || prop.description || ""]));
  }
  return rows;
}

function endpoint(spec, path, method, op, secured) {
  const card = el("section", "card endpoint");
  const h = el("h2");
  h.append(el("span", "method " + method, method.toUpperCase()), el("code", "", path));
  card.append(h);
  card.append(el("p", "", (op.summary || "") + (op.description ? " \u2014 " + op.description : "")));
  if (secured && (op.security || spec.security)) card.append(el("p", "muted", "Needs the X-API-Key header when the service has a key."));
  const rows = fieldRows(spec, op);
  if (rows.length) card.append(table(["field", "type", "required", "description"], rows));
  const responses = Object.entries(op.responses || {}).map(([code, r]) => {
    const json = r.content && r.content["application/json"];
    return [code, json ? typeOf(spec, json.schema) : "", r.description || ""];
  });
  card.append(table(["status", "body", "meaning"], responses));
  return card;
}

async function start() {
  const spec = await (await fetch("/openapi.json")).json();
  document.getElementById("title").textContent = spec.info.title + " API " + spec.info.version;
  document.getElementById("description").textContent = spec.info.description || "";
  const box = document.getElementById("endpoints");
  Object.entries(spec.paths).forEach(([path, ops]) => {
    Object.entries(ops).forEach(([method, op]) => box.append(endpoint(spec, path, method, op, true)));
  });
}

document.addEventListener("DOMContentLoaded", start);
