// The session's results, newest first: kept in this tab's session storage (a reload keeps them, closing the tab
// forgets them), shown again on a click, copied or downloaded in the CLI's formats (`captionbot caption --json`
// and `--csv`, captionbot/commands/caption.py), refusals included as the CLI writes them.
import { orderedModels } from "./answer.js";

const STORAGE = "captionbot-history";
const LIMIT = 500;
const CSV_HEADER = ["image", "model", "version", "caption", "ms", "error_code", "error_message"];
const $ = (id) => document.getElementById(id);

let entries = load(); // oldest first
const pictures = new Map(); // entry id -> its image, while this page lives

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE)) || [];
  } catch {
    return [];
  }
}

function save() {
  // Past the tab's storage quota, the oldest thumbnails go first, then the oldest entries.
  for (let dropped = 0; dropped <= entries.length; dropped++) {
    const kept = entries.map((entry, i) => (i < dropped ? { ...entry, thumb: "" } : entry));
    try {
      sessionStorage.setItem(STORAGE, JSON.stringify(kept));
      return;
    } catch {
      // over the quota: try again with fewer thumbnails
    }
  }
  entries = entries.slice(Math.floor(entries.length / 2));
  save();
}

// entry: {name, thumb, results and options, or error: {code, message}}; returns it with its id and time.
export function addEntry(entry, blob) {
  const stored = { ...entry, id: crypto.randomUUID(), at: new Date().toISOString() };
  entries = [...entries, stored].slice(-LIMIT);
  if (blob) pictures.set(stored.id, blob);
  save();
  return stored;
}

export const pictureOf = (entry) => pictures.get(entry.id) || null;

export function clearHistory() {
  entries = [];
  pictures.clear();
  save();
}

export function renderHistory(onShow) {
  const list = $("history");
  list.replaceChildren(
    ...entries
      .slice()
      .reverse()
      .map((entry) => {
        const item = document.createElement("li");
        item.append(renderEntry(entry, onShow));
        return item;
      }),
  );
  $("history-empty").hidden = entries.length > 0;
  $("history-tools").hidden = entries.length === 0;
}

function renderEntry(entry, onShow) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "history-entry";
  if (entry.thumb) {
    const image = document.createElement("img");
    image.src = entry.thumb;
    image.alt = "";
    button.append(image);
  }
  const text = document.createElement("span");
  const name = document.createElement("strong");
  name.textContent = entry.name;
  const what = document.createElement("span");
  if (entry.error) {
    what.className = "refused";
    what.textContent = ` refused: ${entry.error.message}`;
  } else {
    const first = entry.results[orderedModels(entry.results)[0]];
    what.textContent = `: ${first.captions[0]}`;
  }
  const time = document.createElement("span");
  time.className = "hint";
  time.textContent = ` · ${new Date(entry.at).toLocaleTimeString()}`;
  text.append(name, what, time);
  button.append(text);
  button.addEventListener("click", () => onShow(entry));
  return button;
}

// Python's round(): halves go to the even neighbour, as the CLI rounds its milliseconds.
function roundHalfEven(value) {
  const rounded = Math.round(value);
  return Math.abs(value % 1) === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
}

function jsonLine(entry) {
  if (entry.error) return { image: entry.name, error: entry.error };
  const results = {};
  for (const [name, r] of Object.entries(entry.results)) {
    results[name] = { version: r.version, captions: r.captions, ms: roundHalfEven(r.ms), queue_ms: roundHalfEven(r.queue_ms) };
  }
  return { image: entry.name, results };
}

function csvRows(entry) {
  if (entry.error) return [[entry.name, "", "", "", "", entry.error.code, entry.error.message]];
  return Object.entries(entry.results).flatMap(([name, r]) =>
    r.captions.map((caption) => [entry.name, name, r.version, caption, roundHalfEven(r.ms), "", ""]),
  );
}

// Python's csv.writer: a field with a comma, a quote or a line break is quoted, its quotes doubled; CRLF lines.
const csvField = (value) => {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

export const jsonLines = () => entries.map((entry) => JSON.stringify(jsonLine(entry)) + "\n").join("");

export const csvText = () =>
  [CSV_HEADER, ...entries.flatMap(csvRows)].map((row) => row.map(csvField).join(",") + "\r\n").join("");

// As `captionbot caption` prints them: "a.jpg: caption", or one indented line per caption.
export const textLines = () =>
  entries
    .map((entry) => {
      if (entry.error) return `${entry.name}: refused (${entry.error.code}): ${entry.error.message}`;
      const results = Object.entries(entry.results);
      if (results.length === 1 && results[0][1].captions.length === 1) return `${entry.name}: ${results[0][1].captions[0]}`;
      const lines = results.flatMap(([name, r]) => r.captions.map((caption) => `  ${name} (${r.version}): ${caption}`));
      return [`${entry.name}:`, ...lines].join("\n");
    })
    .join("\n");

export function download(filename, text, type) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
}
