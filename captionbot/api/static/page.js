// The captioner in a browser: one image in (dropped, pasted, chosen or a sample), the API's answer out.
// Every refusal shows the API's own sentence (the problem's `detail`), the same one the chat bots give.
"use strict";

const KEY_STORAGE = "captionbot-api-key";
const MODEL_TITLES = { finetuned: "Fine-tuned", pretrained: "Pretrained" };
const SAY = {
  noImage: "Choose, drop or paste an image first.",
  notAnImage: "That is not a file; drop or paste an image file.",
  working: "Captioning…",
  done: "Captioned.",
  copied: "Copied to the clipboard.",
  copyFailed: "The browser did not allow copying; select the caption and copy it yourself.",
  unreachable: "The captioner could not be reached; check your connection and try again.",
  keyNeeded: "Enter your API key to use the captioner.",
  sampleFailed: "That sample photo could not be loaded; try another or choose a file.",
};

const $ = (id) => document.getElementById(id);
let chosen = null; // {blob, name}
let inFlight = false;

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function say(text) {
  $("status").textContent = text;
}

function showError(text) {
  $("error").textContent = text;
}

async function problemDetail(response) {
  try {
    const body = await response.json();
    return body.detail || response.statusText;
  } catch {
    return response.statusText;
  }
}

// --- API key: asked once, kept in this tab's session storage ---------------------------------------------
async function checkAccess() {
  let response;
  try {
    response = await fetch("/v1/models", { headers: authHeaders() });
  } catch {
    showError(SAY.unreachable);
    return;
  }
  if (response.status === 401) {
    const detail = await problemDetail(response);
    askForKey(apiKey() ? detail : SAY.keyNeeded);
    return;
  }
  $("key-section").hidden = true;
  if (response.ok) showVersions(await response.json());
}

function askForKey(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  $("key-section").hidden = false;
  $("key-error").textContent = message;
  $("key-input").focus();
}

function showVersions(models) {
  const worker = models.workers[0];
  if (!worker) return;
  for (const span of document.querySelectorAll(".version")) {
    const version = worker[span.dataset.model];
    span.textContent = version ? `(${version})` : "(not loaded)";
  }
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("key-input").value = "";
  checkAccess();
});

// --- Choosing an image --------------------------------------------------------------------------------
function choose(blob, name, sampleButton = null) {
  chosen = { blob, name };
  for (const button of document.querySelectorAll(".sample")) {
    button.setAttribute("aria-pressed", String(button === sampleButton));
  }
  $("result").hidden = true; // the answer shown belongs to the image before
  const preview = $("preview-image");
  if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(blob);
  preview.alt = `${name}, not captioned yet`;
  $("preview-name").textContent = name;
  $("preview").hidden = false;
  showError("");
  say(`${name} is ready: press Caption.`);
}

function chooseFirstFile(files) {
  const file = files && files[0];
  if (file) choose(file, file.name || "pasted image");
  else showError(SAY.notAnImage);
}

$("file-input").addEventListener("change", (event) => chooseFirstFile(event.target.files));

const dropZone = $("drop-zone");
dropZone.addEventListener("dragover", (event) => {
  event.preventDefault();
  dropZone.classList.add("dragging");
});
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("dragging");
  chooseFirstFile(event.dataTransfer.files);
});

document.addEventListener("paste", (event) => {
  const files = event.clipboardData && event.clipboardData.files;
  if (files && files.length) {
    event.preventDefault();
    chooseFirstFile(files);
  }
});

async function loadSamples() {
  let samples;
  try {
    const response = await fetch("/v1/samples");
    samples = response.ok ? await response.json() : [];
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
    const thumbnail = document.createElement("img");
    thumbnail.src = sample.url;
    thumbnail.alt = "";
    button.append(thumbnail);
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
    choose(await response.blob(), sample.name, button);
  } catch {
    showError(SAY.sampleFailed);
  }
}

// --- Settings -----------------------------------------------------------------------------------------
for (const [id, digits] of [["max-words", 0], ["beams", 0], ["temperature", 1]]) {
  const input = $(id);
  input.addEventListener("input", () => {
    $(`${id}-value`).textContent = Number(input.value).toFixed(digits);
  });
}

function formData() {
  const data = new FormData();
  data.append("image", chosen.blob, chosen.name);
  const model = document.querySelector('input[name="model"]:checked').value;
  if (model === "compare") data.append("compare", "true");
  else data.append("model", model);
  data.append("variations", $("variations").checked ? "true" : "false");
  data.append("max_words", $("max-words").value);
  data.append("beams", $("beams").value);
  data.append("temperature", $("temperature").value);
  return data;
}

// --- Captioning and the answer ------------------------------------------------------------------------
$("caption-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (inFlight) return;
  if (!chosen) {
    showError(SAY.noImage);
    return;
  }
  inFlight = true;
  $("caption-button").setAttribute("aria-disabled", "true");
  showError("");
  say(SAY.working);
  try {
    const response = await fetch("/v1/captions", { method: "POST", headers: authHeaders(), body: formData() });
    if (response.ok) {
      showAnswer(await response.json());
      say(SAY.done);
    } else {
      const detail = await problemDetail(response);
      say("");
      if (response.status === 401) askForKey(detail);
      else showError(detail);
    }
  } catch {
    say("");
    showError(SAY.unreachable);
  } finally {
    inFlight = false;
    $("caption-button").removeAttribute("aria-disabled");
  }
});

function timing(result) {
  return `${(result.ms / 1000).toFixed(2)} s compute, ${(result.queue_ms / 1000).toFixed(2)} s in queue`;
}

function showAnswer(answer) {
  const answers = $("answers");
  answers.replaceChildren();
  const names = Object.keys(answer.results);
  for (const name of names) answers.append(renderModel(name, answer.results[name]));
  const first = answer.results.finetuned || answer.results[names[0]];
  $("preview-image").alt = first.captions[0];
  $("result-title").textContent = names.length > 1 ? "Pretrained and fine-tuned, side by side" : "Caption";
  $("result").hidden = false;
  $("result").focus();
}

function renderModel(name, result) {
  const title = `${MODEL_TITLES[name] || name} · ${result.version}`;
  const article = document.createElement("article");
  article.className = "answer";
  const heading = document.createElement("h3");
  heading.textContent = title;
  const list = document.createElement("ol");
  list.className = "captions";
  result.captions.forEach((caption, index) => list.append(renderCaption(caption, `${title}, caption ${index + 1}`)));
  const time = document.createElement("p");
  time.className = "timing";
  time.textContent = timing(result);
  article.append(heading, list, time);
  return article;
}

function renderCaption(caption, label) {
  const item = document.createElement("li");
  const text = document.createElement("p");
  text.className = "caption-text";
  text.textContent = caption;
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "copy";
  copy.textContent = "Copy";
  copy.setAttribute("aria-label", `Copy ${label}`);
  copy.addEventListener("click", () => copyText(caption));
  item.append(text, copy);
  return item;
}

async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
    else copyWithSelection(text);
    say(SAY.copied);
  } catch {
    say(SAY.copyFailed);
  }
}

// Outside a secure context (plain http on a trusted network) the Clipboard API is absent.
function copyWithSelection(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}

loadSamples();
checkAccess();
