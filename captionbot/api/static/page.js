// The captioner in a browser: images in (chosen, dropped, pasted or a sample; several are captioned one after
// another), each checked before it is called ready; the API's answer beside the image; the session's results
// listed, copied and downloaded.
import { clearAnswer, showRefusal, showResult } from "./answer.js";
import { fetchModels, fetchSamples, health, key, postCaption, problemOf } from "./api.js";
import {
  addEntry,
  clearHistory,
  csvText,
  download,
  jsonLines,
  pictureOf,
  renderHistory,
  textLines,
} from "./history.js";
import { copyText } from "./clipboard.js";
import { MAX_BATCH, SAY } from "./say.js";
import { appendOptions, setUpSettings, showVersions } from "./settings.js";
import { checkImage } from "./sniff.js";

const $ = (id) => document.getElementById(id);
const HEALTH_EVERY_MS = 15_000;
const MAX_WAIT_S = 120; // the longest Retry-After a batch waits out before it stops

let chosen = []; // [{blob, name, thumb}]: checked images, captioned in this order
let leftOut = []; // [{name, code, message}]: files of the same choice that are not images
let controller = null; // the running caption's AbortController

const say = (text) => {
  $("status").textContent = text;
};

// --- The API key: asked for only where the server needs one, kept for this tab ----------------------------
async function checkAccess({ accepted = false } = {}) {
  let response;
  try {
    response = await fetchModels();
  } catch {
    showNotice(SAY.serverGone);
    return;
  }
  if (response.status === 401) {
    const problem = await problemOf(response);
    askForKey(key.get() ? problem.detail : "");
    return;
  }
  $("key-section").hidden = true;
  showKeyState();
  if (response.ok) showVersions(await response.json());
  if (accepted) {
    say(SAY.keyAccepted);
    $("file-input").focus();
  }
}

// A first visit is asked plainly; a refused key gets the API's sentence.
function askForKey(error, { keepable = false } = {}) {
  if (!keepable) key.forget();
  showKeyState();
  $("key-section").hidden = false;
  $("key-error").textContent = error;
  $("key-keep").hidden = !keepable;
  $("key-input").focus();
}

function showKeyState() {
  const stored = key.get();
  $("key-state").hidden = !stored;
  $("key-tail").textContent = stored ? `ending …${stored.slice(-4)}` : "";
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("key-input").value.trim();
  if (!value) return;
  key.set(value);
  $("key-input").value = "";
  checkAccess({ accepted: true });
});
$("key-change").addEventListener("click", () => askForKey("", { keepable: true }));
$("key-keep").addEventListener("click", () => {
  $("key-section").hidden = true;
  $("key-change").focus();
});
$("key-forget").addEventListener("click", () => {
  askForKey("");
  say(SAY.keyForgotten);
});

// --- Whether a worker is up: a notice before anyone presses Caption -------------------------------------------
function showNotice(text) {
  $("worker-notice").textContent = text;
  $("worker-notice").hidden = !text;
}

async function watchHealth() {
  const state = await health();
  showNotice({ ok: "", no_worker: SAY.noWorker, unreachable: SAY.serverGone }[state]);
}

setInterval(() => {
  if (!document.hidden) watchHealth();
}, HEALTH_EVERY_MS);

// --- Choosing images ----------------------------------------------------------------------------------------
function showPreview(source, name, { alt = `${name}, not captioned yet`, empty = "No image chosen yet." } = {}) {
  const image = $("preview-image");
  if (image.src.startsWith("blob:")) URL.revokeObjectURL(image.src);
  if (source) {
    image.src = source instanceof Blob ? URL.createObjectURL(source) : source;
    image.alt = alt;
  } else {
    image.removeAttribute("src");
  }
  image.hidden = !source;
  $("preview-empty").textContent = empty;
  $("preview-empty").hidden = Boolean(source);
  $("preview-name").textContent = name;
}

function markSample(button) {
  for (const sample of document.querySelectorAll(".sample")) {
    sample.setAttribute("aria-pressed", String(sample === button));
  }
}

async function choose(files, { fromInput = false, sampleButton = null } = {}) {
  if (controller) {
    say(SAY.busy);
    return;
  }
  markSample(sampleButton);
  if (!fromInput) $("file-input").value = ""; // the file box names only what it chose itself
  clearAnswer();
  if (files.length === 0) return refuse(SAY.noFiles);
  if (files.length > MAX_BATCH) return refuse(SAY.tooMany(files.length));
  say(SAY.checking);
  const checks = [];
  for (const file of files) checks.push(await checkImage(file)); // one decode at a time
  chosen = files.flatMap((file, i) => (checks[i].ok ? [{ blob: file, name: file.name || "pasted image", thumb: checks[i].thumb }] : []));
  leftOut = files.flatMap((file, i) => (checks[i].ok ? [] : [{ name: file.name, code: checks[i].code, message: checks[i].message }]));
  updateCaptionButton();
  if (chosen.length === 0) {
    showPreview(null, files.length === 1 ? files[0].name : "", { empty: "No image to show." });
    say("");
    showRefusal(files.length === 1 ? leftOut[0].message : leftOutSentence());
    leftOut = [];
    return;
  }
  showPreview(chosen[0].blob, chosen.length > 1 ? `${chosen[0].name} and ${chosen.length - 1} more` : chosen[0].name);
  say(chosen.length > 1 ? SAY.readyMany(chosen.length) : SAY.ready(chosen[0].name));
  if (leftOut.length) showRefusal(leftOutSentence());
}

const leftOutSentence = () => SAY.skipped(leftOut.map((file) => `${file.name} (${file.message})`).join("; "));

function refuse(message) {
  chosen = [];
  leftOut = [];
  updateCaptionButton();
  showRefusal(message);
}

function updateCaptionButton() {
  $("caption-button").textContent = chosen.length > 1 ? `Caption ${chosen.length} images` : "Caption";
}

$("file-input").addEventListener("change", (event) => choose(Array.from(event.target.files), { fromInput: true }));

// A drop anywhere on the page counts: the browser would otherwise open the file in place of the page.
const dropZone = $("drop-zone");
document.addEventListener("dragover", (event) => {
  event.preventDefault();
  dropZone.classList.add("dragging");
});
document.addEventListener("dragleave", (event) => {
  if (!event.relatedTarget) dropZone.classList.remove("dragging");
});
document.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("dragging");
  choose(Array.from(event.dataTransfer.files));
});

document.addEventListener("paste", (event) => {
  const files = event.clipboardData && event.clipboardData.files;
  if (files && files.length) {
    event.preventDefault();
    choose(Array.from(files));
  }
});

async function loadSamples() {
  let samples = [];
  try {
    const response = await fetchSamples();
    if (response.ok) samples = await response.json();
  } catch {
    return;
  }
  const list = $("sample-list");
  for (const sample of samples) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sample";
    button.setAttribute("aria-label", `Sample photo: ${sample.title}`);
    button.setAttribute("aria-pressed", "false");
    const picture = document.createElement("img");
    picture.src = sample.url;
    picture.alt = "";
    button.append(picture);
    button.addEventListener("click", () => chooseSample(sample, button));
    item.append(button);
    list.append(item);
  }
  $("samples").hidden = samples.length === 0;
}

async function chooseSample(sample, button) {
  try {
    const response = await fetch(sample.url);
    if (!response.ok) throw new Error(response.statusText);
    const blob = await response.blob();
    await choose([new File([blob], sample.name, { type: blob.type })], { sampleButton: button });
  } catch {
    showRefusal(SAY.sampleFailed);
  }
}

// --- Captioning: one image, or a batch one after another; progress and cancel --------------------------------
$("caption-form").addEventListener("submit", (event) => {
  event.preventDefault();
  captionChosen();
});
$("cancel-button").addEventListener("click", () => controller && controller.abort());

function setBusy(busy, count = 0) {
  if (busy) $("caption-button").setAttribute("aria-disabled", "true");
  else $("caption-button").removeAttribute("aria-disabled");
  $("cancel-button").hidden = !busy;
  $("progress").hidden = !busy;
  $("elapsed").textContent = "";
  if (count > 1) {
    $("progress").max = count;
    $("progress").value = 0;
  } else {
    $("progress").removeAttribute("value");
  }
}

async function captionChosen() {
  if (controller) return;
  if (chosen.length === 0) {
    showRefusal(SAY.noImage);
    return;
  }
  const batch = chosen;
  controller = new AbortController();
  setBusy(true, batch.length);
  for (const file of leftOut) addEntry({ name: file.name, thumb: "", error: { code: file.code, message: file.message } });
  let captioned = 0;
  let refused = leftOut.length;
  leftOut = []; // recorded once
  try {
    for (const [index, item] of batch.entries()) {
      if (batch.length > 1) showPreview(item.blob, item.name);
      say(batch.length > 1 ? SAY.workingBatch(index + 1, batch.length, item.name) : SAY.working(item.name));
      const outcome = await captionOne(item, batch.length > 1);
      if (outcome === "stop") return;
      if (outcome === "captioned") captioned++;
      else refused++;
      $("progress").value = index + 1;
    }
    say(batch.length > 1 ? SAY.doneBatch(captioned, refused) : captioned ? SAY.done : "");
  } finally {
    controller = null;
    setBusy(false);
    renderHistory(showEntry);
  }
}

// "captioned", "refused" (the batch goes on) or "stop" (cancelled, no key, no worker, no connection).
async function captionOne(item, inBatch) {
  const started = Date.now();
  const ticker = setInterval(() => {
    $("elapsed").textContent = `${Math.round((Date.now() - started) / 1000)} s`;
  }, 1000);
  try {
    for (;;) {
      const data = new FormData();
      data.append("image", item.blob, item.name);
      appendOptions(data);
      const response = await postCaption(data, controller.signal);
      if (response.ok) {
        const answer = await response.json();
        const entry = addEntry({ name: item.name, thumb: item.thumb, results: answer.results, options: answer.options }, item.blob);
        showEntry(entry);
        return "captioned";
      }
      const problem = await problemOf(response);
      if (inBatch && problem.status === 429 && problem.retryAfter <= MAX_WAIT_S) {
        say(SAY.waiting(problem.retryAfter));
        await pause(problem.retryAfter * 1000, controller.signal);
        continue;
      }
      if (problem.status === 401) {
        say("");
        askForKey(problem.detail);
        return "stop";
      }
      addEntry({ name: item.name, thumb: item.thumb, error: { code: problem.code, message: problem.detail } }, item.blob);
      showRefusal(problem.detail);
      if (problem.status === 503) {
        say("");
        watchHealth();
        return "stop";
      }
      return "refused";
    }
  } catch (err) {
    say(err.name === "AbortError" ? SAY.cancelled : "");
    if (err.name !== "AbortError") showRefusal(SAY.unreachable);
    return "stop";
  } finally {
    clearInterval(ticker);
  }
}

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("cancelled", "AbortError"));
    });
  });
}

// --- The session's results ------------------------------------------------------------------------------------
function showEntry(entry) {
  const picture = pictureOf(entry) || entry.thumb || null;
  if (entry.error) {
    showPreview(picture, entry.name, { empty: "No image to show." });
    showRefusal(entry.error.message);
    return;
  }
  const names = Object.keys(entry.results);
  const first = entry.results.finetuned || entry.results[names[0]];
  showPreview(picture, entry.name, { alt: first.captions[0] });
  showResult(entry, say);
}

$("download-jsonl").addEventListener("click", () => download("captions.jsonl", jsonLines(), "application/jsonl"));
$("download-csv").addEventListener("click", () => download("captions.csv", csvText(), "text/csv"));
$("copy-session").addEventListener("click", async () => say(await copyText(textLines())));
$("clear-history").addEventListener("click", () => {
  clearHistory();
  renderHistory(showEntry);
  say(SAY.historyCleared);
  $("file-input").focus();
});

setUpSettings();
renderHistory(showEntry);
loadSamples();
checkAccess();
watchHealth();
