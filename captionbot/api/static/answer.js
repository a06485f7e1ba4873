// The answer beside the image: each model's captions in the order the heading names them, variations numbered
// with their temperature, a copy button on each and one for all; or the refusal, in the same place.
import { copyText } from "./clipboard.js";

const $ = (id) => document.getElementById(id);
const MODEL_TITLES = { finetuned: "Fine-tuned", pretrained: "Pretrained" };
const MODEL_ORDER = ["finetuned", "pretrained"];

export const orderedModels = (results) =>
  [...MODEL_ORDER.filter((name) => name in results), ...Object.keys(results).filter((n) => !MODEL_ORDER.includes(n))];

const modelTitle = (name, result) => `${MODEL_TITLES[name] || name} · ${result.version}`;
const temperature = (value) => (Number.isInteger(value) ? value.toFixed(1) : String(value));

export function clearAnswer() {
  $("result").hidden = true;
  $("refusal").hidden = true;
  $("answer-empty").hidden = false;
}

// Shows the API's sentence where the caption would be, and moves focus to it.
export function showRefusal(message) {
  const refusal = $("refusal");
  const detail = document.createElement("p");
  detail.className = "detail";
  detail.textContent = message;
  refusal.replaceChildren(detail);
  $("result").hidden = true;
  $("answer-empty").hidden = true;
  refusal.hidden = false;
  refusal.focus();
}

// entry: {results, options} as the API answered; `say` shows a status sentence.
export function showResult(entry, say) {
  const names = orderedModels(entry.results);
  const variations = entry.options.mode === "variations";
  $("result-title").textContent =
    names.length > 1
      ? names.map((name, i) => (i ? MODEL_TITLES[name].toLowerCase() : MODEL_TITLES[name])).join(" and ") + ", side by side"
      : variations ? "Three variations" : "Caption";
  $("applied").textContent = describeOptions(entry.options, names.length > 1);
  $("answers").replaceChildren(...names.map((name) => renderModel(name, entry.results[name], entry.options, say)));
  const copyAll = $("copy-all");
  copyAll.hidden = names.reduce((count, name) => count + entry.results[name].captions.length, 0) < 2;
  copyAll.onclick = async () => say(await copyText(allCaptions(entry)));
  $("refusal").hidden = true;
  $("answer-empty").hidden = true;
  $("result").hidden = false;
  $("result").focus();
}

function describeOptions(options, compare) {
  const words = `up to ${options.max_words} words`;
  const how = options.temperatures
    ? `Sampled at temperatures ${options.temperatures.map(temperature).join(", ")}, ${words}.`
    : compare
      ? `Beam search, each model with its own beams, ${words}.`
      : `Beam search with ${options.beams} beam${options.beams === 1 ? "" : "s"}, ${words}.`;
  const ignored = Object.entries(options.ignored || {}).map(([name, why]) => ` Not used: ${name} (${why}).`);
  return how + ignored.join("");
}

function renderModel(name, result, options, say) {
  const title = modelTitle(name, result);
  const article = document.createElement("article");
  article.className = "answer";
  const heading = document.createElement("h3");
  heading.textContent = title;
  const list = document.createElement("ol");
  list.className = "captions";
  result.captions.forEach((caption, index) => {
    const label = options.temperatures
      ? `${index + 1} · temperature ${temperature(options.temperatures[index])}`
      : null;
    const what = label ? `variation ${index + 1}` : `caption ${index + 1}`;
    list.append(renderCaption(caption, label, `Copy ${title}, ${what}`, say));
  });
  const time = document.createElement("p");
  time.className = "timing";
  time.textContent = `${(result.ms / 1000).toFixed(2)} s compute, ${(result.queue_ms / 1000).toFixed(2)} s in queue`;
  article.append(heading, list, time);
  return article;
}

function renderCaption(caption, label, copyLabel, say) {
  const item = document.createElement("li");
  if (label) {
    const number = document.createElement("span");
    number.className = "variation";
    number.textContent = label;
    item.append(number);
  }
  const text = document.createElement("p");
  text.className = "caption-text";
  text.textContent = caption;
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "copy";
  copy.textContent = "Copy";
  copy.setAttribute("aria-label", copyLabel);
  copy.addEventListener("click", async () => say(await copyText(caption)));
  item.append(text, copy);
  return item;
}

function allCaptions(entry) {
  const names = orderedModels(entry.results);
  return names
    .flatMap((name) => {
      const result = entry.results[name];
      return result.captions.map((caption) => (names.length > 1 ? `${modelTitle(name, result)}: ${caption}` : caption));
    })
    .join("\n");
}
