// mtqa review page: check an article, show each finding in place, accept or dismiss suggestions.
// Offsets from mtqa are Python str indices (Unicode code points); JS strings count UTF-16 units,
// so the text is kept as an array of code points and every slice and splice goes through it.
"use strict";

const CATEGORIES = ["name", "realword", "spelling", "grammar", "garble", "ocr", "boilerplate", "style"];
const $ = (id) => document.getElementById(id);

const state = {
  chars: [],        // the article as code points; findings index into it
  format: "text",   // what the last check was sent as
  findings: [],     // open findings: {start, end, text, category, message, suggestions, evidence, ...}
  selected: null,
  accepted: 0,
  dismissed: 0,
};

function textOf(start, end) {
  return state.chars.slice(start, end).join("");
}

// Replace [start, end) and move every other finding so it still covers its own text. A finding
// that overlaps the edited span no longer points at what it flagged, so it is dropped.
function applyEdit(start, end, replacement) {
  const inserted = Array.from(replacement);
  const delta = inserted.length - (end - start);
  state.chars.splice(start, end - start, ...inserted);
  const kept = [];
  for (const f of state.findings) {
    if (f.end <= start) {
      kept.push(f);
    } else if (f.start >= end) {
      kept.push({ ...f, start: f.start + delta, end: f.end + delta });
    }
  }
  state.findings = kept;
}

function detectFormat(text) {
  const choice = $("format").value;
  if (choice !== "auto") return choice;
  return /^\s*<(!doctype\s+html|html|body|p|div|article|h[1-6]|span|br)\b/i.test(text) ? "html" : "text";
}

function setStatus(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
}

async function check() {
  const text = $("input").value;
  if (!text.trim()) {
    setStatus("Paste some text first.", true);
    return;
  }
  const format = detectFormat(text);
  const headers = { "Content-Type": "application/json" };
  const token = $("token").value.trim();
  if (token) {
    headers.Authorization = `Bearer ${token}`;
    sessionStorage.setItem("mtqa-token", token);
  }
  setStatus("Checking…");
  $("check").disabled = true;
  try {
    const response = await fetch("/v1/check", { method: "POST", headers, body: JSON.stringify({ [format]: text }) });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const hint = response.status === 401 ? " (enter the API token)" : "";
      setStatus(`${body.message || response.statusText}${hint}`, true);
      return;
    }
    const doc = body.document;
    state.chars = Array.from(text);
    state.format = format;
    state.findings = doc.findings.slice().sort((a, b) => a.start - b.start || a.end - b.end);
    state.selected = null;
    state.accepted = 0;
    state.dismissed = 0;
    const verdict = $("verdict");
    verdict.textContent = doc.verdict;
    verdict.className = `verdict ${doc.verdict}`;
    verdict.dataset.verdict = doc.verdict;
    $("errors").replaceChildren(...doc.errors.map((e) => li(`Checker ${e.checker} failed: ${e.error} (its findings are missing)`)));
    $("result").hidden = false;
    render();
    setStatus(`Checked: ${doc.findings.length} finding${doc.findings.length === 1 ? "" : "s"}.`);
  } catch (error) {
    setStatus(`Could not reach mtqa: ${error}`, true);
  } finally {
    $("check").disabled = false;
  }
}

function li(text) {
  const item = document.createElement("li");
  item.textContent = text;
  return item;
}

function render() {
  const view = $("view");
  const parts = [];
  let at = 0;
  state.findings.forEach((f, index) => {
    if (f.start < at) return; // overlaps the previous highlight: listed, not drawn twice
    parts.push(document.createTextNode(textOf(at, f.start)));
    const mark = document.createElement("mark");
    mark.className = "finding";
    mark.dataset.category = f.category;
    mark.dataset.check = f.check;
    mark.dataset.index = String(index);
    mark.dataset.expected = f.text;
    mark.tabIndex = 0;
    mark.setAttribute("role", "button");
    mark.title = `${f.category}: ${f.message}`;
    mark.textContent = textOf(f.start, f.end) || "\u2038"; // an insertion point shows as a caret
    if (state.selected === index) mark.classList.add("selected");
    mark.addEventListener("click", () => select(index));
    mark.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        select(index);
      }
    });
    parts.push(mark);
    at = f.end;
  });
  parts.push(document.createTextNode(textOf(at, state.chars.length)));
  view.replaceChildren(...parts);
  $("input").value = state.chars.join("");
  $("counts").textContent = `${state.findings.length} open · ${state.accepted} accepted · ${state.dismissed} dismissed`;
  const used = new Set(state.findings.map((f) => f.category));
  $("legend").replaceChildren(...CATEGORIES.filter((c) => used.has(c)).map((c) => {
    const item = li(c);
    item.dataset.category = c;
    return item;
  }));
  renderDetails();
}

function select(index) {
  state.selected = index;
  render();
}

function renderDetails() {
  const details = $("details");
  const f = state.findings[state.selected];
  if (!f) {
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = state.findings.length ? "Select a highlight to see what mtqa found and why." : "No open findings.";
    details.replaceChildren(hint);
    return;
  }
  const heading = document.createElement("h2");
  const cat = document.createElement("span");
  cat.className = "cat";
  cat.dataset.category = f.category;
  cat.textContent = f.category;
  heading.append(cat, ` ${f.severity} · confidence ${f.confidence.toFixed(2)}`);
  const flagged = document.createElement("p");
  flagged.innerHTML = "<strong>Flagged:</strong> ";
  flagged.append(`“${textOf(f.start, f.end)}” (${f.check})`);
  const message = document.createElement("p");
  message.className = "message";
  message.textContent = f.message;
  const suggestions = document.createElement("div");
  suggestions.className = "suggestions";
  f.suggestions.forEach((s) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "accept";
    button.dataset.value = s;
    button.textContent = s === "" ? "Delete it" : `Accept “${s}”`;
    button.addEventListener("click", () => accept(state.selected, s));
    suggestions.append(button);
  });
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "dismiss";
  dismiss.textContent = "Dismiss";
  dismiss.addEventListener("click", () => {
    state.findings.splice(state.selected, 1);
    state.selected = null;
    state.dismissed += 1;
    render();
  });
  suggestions.append(dismiss);
  const evidence = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "Evidence";
  const pre = document.createElement("pre");
  pre.textContent = JSON.stringify(f.evidence, null, 2);
  evidence.append(summary, pre);
  details.replaceChildren(heading, flagged, message, suggestions, evidence);
}

function accept(index, replacement) {
  const f = state.findings[index];
  if (!f) return;
  state.findings.splice(index, 1);
  applyEdit(f.start, f.end, replacement);
  state.selected = null;
  state.accepted += 1;
  render();
  setStatus(`Accepted “${replacement}”. Check again for an up-to-date verdict.`);
}

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = sessionStorage.getItem("mtqa-token") || "";
  $("check").addEventListener("click", check);
  // Typing in the box makes the highlights stale: hide them rather than risk overwriting the edit.
  $("input").addEventListener("input", () => {
    if ($("result").hidden) return;
    state.chars = Array.from($("input").value);
    state.findings = [];
    state.selected = null;
    $("result").hidden = true;
    setStatus("Text edited: check again to see findings.");
  });
  $("copy").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(state.chars.join("")));
});
