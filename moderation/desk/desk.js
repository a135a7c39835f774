// The review desk. Comment text is hostile input: it only ever enters the page as text nodes (el() and
// Node.append with strings), never as HTML; the server's Content-Security-Policy forbids inline script anyway.
"use strict";

const KEY = new URLSearchParams(location.search).get("key");
const ORDER = {review: 0, reject: 1, approve: 2};
const VERDICT_NAMES = {approve: "approved", reject: "rejected", off_topic: "off-topic"};
const state = {items: [], verdicts: {}, view: [], focus: null, mine: []};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);  // strings become text nodes
  }
  return node;
}

async function api(path, body) {
  const headers = KEY ? {"X-API-Key": KEY} : {};
  const options = body === undefined ? {headers} : {
    method: "POST", headers: {...headers, "Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error ? data.error.message : response.statusText);
  return data;
}

function say(text) {
  document.getElementById("message").textContent = text || "";
}

function maxP(item) {
  return Math.max(0, ...Object.values(item.probabilities));
}

function visible() {
  const showApproved = document.getElementById("approved").checked;
  const undecided = document.getElementById("undecided").checked;
  const reason = document.getElementById("reason").value;
  const words = document.getElementById("search").value.trim().toLowerCase();
  const byArticle = document.getElementById("sort").value === "article";
  const view = state.items.filter((item) =>
    (showApproved || item.decision !== "approve")
    && (!undecided || !(item.id in state.verdicts))
    && (!reason || item.reason_codes.includes(reason))
    && (!words || [item.text, item.author, item.title, item.page].join(" ").toLowerCase().includes(words)));
  view.sort((a, b) => (byArticle ? (a.title || a.page || "").localeCompare(b.title || b.page || "") : 0)
    || ORDER[a.decision] - ORDER[b.decision] || maxP(b) - maxP(a));
  return view;
}

function textWithMarks(item) {
  const p = el("p", {class: "text"});
  for (const part of item.segments) {
    p.append(part.category === undefined ? part.text : el("mark", {
      "data-category": part.category, "data-start": part.start, "data-end": part.end,
      title: part.message || `${part.category} (weight ${part.weight})`}, part.text));
  }
  return p;
}

function bars(item) {
  const list = el("dl", {class: "bars"});
  for (const [category, p] of Object.entries(item.probabilities)) {
    list.append(el("dt", {}, category),
      el("dd", {}, el("meter", {min: 0, max: 1, value: p, low: 0.5, high: 0.9, optimum: 0}), ` ${p.toFixed(3)}`));
  }
  return list;
}

function card(item) {
  const verdict = state.verdicts[item.id];
  const node = el("article", {
    class: "card", "data-comment-id": item.id, "data-decision": item.decision, tabindex: -1,
    "data-verdict": verdict ? verdict.verdict : null,
    "aria-current": state.focus === item.id ? "true" : null});
  node.append(el("header", {},
    el("span", {class: `decision ${item.decision}`}, item.decision),
    ...item.reason_codes.map((code) => el("span", {class: "code"}, code)),
    el("span", {class: "author"}, item.author || "anonymous"),
    item.posted_at ? el("time", {}, item.posted_at) : null,
    el("span", {class: "article"}, item.title || item.page || ""),
    verdict ? el("span", {class: `verdict ${verdict.verdict}`}, VERDICT_NAMES[verdict.verdict]) : null));
  if (item.reply_to) {
    node.append(el("blockquote", {class: "parent"}, `replying to ${item.reply_to.author}`,
      item.reply_to.text ? el("span", {}, `: ${item.reply_to.text}`) : null));
  }
  const why = item.reasons.filter((reason) => reason.start === null && reason.message);
  node.append(textWithMarks(item));
  if (why.length) node.append(el("ul", {class: "why"}, ...why.map((reason) => el("li", {}, reason.message))));
  node.append(bars(item));
  const actions = el("div", {class: "actions"});
  for (const [verdictName, label] of [["approve", "Approve (a)"], ["reject", "Reject (r)"],
    ["off_topic", "Off-topic (o)"]]) {
    const button = el("button", {type: "button", "data-verdict": verdictName}, label);
    button.addEventListener("click", () => { state.focus = item.id; decide(verdictName); });
    actions.append(button);
  }
  const undo = el("button", {type: "button", class: "undo"}, "Undo (u)");
  undo.addEventListener("click", () => undoLast());
  actions.append(undo, el("span", {class: "source"}, `${item.id} · ${item.source}`));
  node.append(actions);
  node.addEventListener("click", () => { if (state.focus !== item.id) { state.focus = item.id; render(); } });
  return node;
}

function progress() {
  const held = state.items.filter((item) => item.decision !== "approve");
  const done = held.filter((item) => item.id in state.verdicts).length;
  const approved = state.items.length - held.length;
  const extra = state.items.filter((item) => item.decision === "approve" && item.id in state.verdicts).length;
  document.getElementById("progress").textContent = `${done} of ${held.length} reviewed`
    + (approved ? ` · ${extra} of ${approved} approved ones checked` : "");
}

function render() {
  state.view = visible();
  if (!state.view.some((item) => item.id === state.focus)) {
    state.focus = state.view.length ? state.view[0].id : null;
  }
  document.getElementById("queue").replaceChildren(...state.view.map(card),
    ...(state.view.length ? [] : [el("p", {class: "empty"}, "Nothing here: the queue is clear.")]));
  progress();
  const focused = document.querySelector('.card[aria-current="true"]');
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (focused && !typing) {
    focused.scrollIntoView({block: "nearest"});
    focused.focus({preventScroll: true});
  }
}

function move(step) {
  const at = state.view.findIndex((item) => item.id === state.focus);
  const next = Math.min(Math.max(at + step, 0), state.view.length - 1);
  if (next >= 0) state.focus = state.view[next].id;
  render();
}

function nextUndecided(from) {
  const at = state.view.findIndex((item) => item.id === from);
  const after = state.view.slice(at + 1).concat(state.view.slice(0, at));
  const next = after.find((item) => !(item.id in state.verdicts));
  return next ? next.id : (state.view[at + 1] || state.view[at] || {}).id;
}

async function decide(verdict) {
  const id = state.focus;
  if (id === null) return;
  try {
    state.verdicts = (await api("/api/verdict", {id, verdict})).verdicts;
    state.mine.push({id, seq: state.verdicts[id].seq});
    state.focus = nextUndecided(id);
    say("");
  } catch (error) {
    say(`Not saved: ${error.message}`);
  }
  render();
}

async function undoLast() {
  const last = state.mine.pop();
  if (!last) { say("Nothing to undo in this tab."); return; }
  try {
    state.verdicts = (await api("/api/undo", last)).verdicts;
    state.focus = last.id;
    say("");
  } catch (error) {
    say(`Not undone: ${error.message}`);
    await refresh();
  }
  render();
}

async function refresh() {
  state.verdicts = (await api("/api/verdicts")).verdicts;
}

function chartUrl(name) {
  const query = new URLSearchParams({t: Date.now()});
  if (KEY) query.set("key", KEY);
  return `/charts/${name}.svg?${query}`;
}

async function showSummary(show) {
  for (const id of ["queue", "controls"]) document.getElementById(id).hidden = show;
  document.getElementById("summary").hidden = !show;
  document.getElementById("show-summary").setAttribute("aria-pressed", String(show));
  document.getElementById("show-queue").setAttribute("aria-pressed", String(!show));
  if (!show) { render(); return; }
  for (const img of document.querySelectorAll("#summary img")) img.src = chartUrl(img.id.slice(6));
  const stats = await api("/api/summary");
  const rows = Object.entries(stats.agreement).map(([decision, a]) => el("tr", {},
    el("td", {}, decision), el("td", {}, a.verdicts), el("td", {}, a.approve), el("td", {}, a.reject),
    el("td", {}, a.off_topic), el("td", {}, a.agreed === null ? "–" : `${Math.round(100 * a.agreed)} %`)));
  document.querySelector("#agreement tbody").replaceChildren(...rows);
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName)) return;
  if (!document.getElementById("summary").hidden) return;
  const actions = {j: () => move(1), k: () => move(-1), a: () => decide("approve"), r: () => decide("reject"),
    o: () => decide("off_topic"), u: () => undoLast()};
  if (actions[event.key]) {
    event.preventDefault();
    actions[event.key]();
  }
}

async function start() {
  const data = await api("/api/queue");
  state.items = data.items;
  state.verdicts = data.verdicts;
  const codes = [...new Set(state.items.flatMap((item) => item.reason_codes))].sort();
  document.getElementById("reason").append(...codes.map((code) => el("option", {value: code}, code)));
  for (const id of ["sort", "reason", "search", "approved", "undecided"]) {
    document.getElementById(id).addEventListener("input", render);
  }
  document.getElementById("show-summary").addEventListener("click", () => showSummary(true));
  document.getElementById("show-queue").addEventListener("click", () => showSummary(false));
  document.addEventListener("keydown", onKey);
  // Another tab (or another desk on the same folder) may decide too: pick its verdicts up while visible.
  setInterval(async () => {
    if (document.hidden || !document.getElementById("summary").hidden) return;
    try {
      const before = JSON.stringify(state.verdicts);
      await refresh();
      if (JSON.stringify(state.verdicts) !== before) render();
    } catch (error) {
      say(`Lost the desk: ${error.message}`);
    }
  }, 5000);
  render();
}

start().catch((error) => say(`Cannot load the queue: ${error.message}`));
