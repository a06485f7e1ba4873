// The settings, and which of them the chosen mode uses: a control the request would ignore is disabled with
// the reason beside it, and is not sent (the API would name it in `options.ignored`).
import { REASONS } from "./say.js";

const $ = (id) => document.getElementById(id);
const SLIDERS = [["max-words", 0], ["beams", 0], ["temperature", 1]];

export function mode() {
  const model = document.querySelector('input[name="model"]:checked').value;
  return { compare: model === "compare", model, variations: $("variations").checked };
}

export function syncControls() {
  const { compare, variations } = mode();
  const beamsReason = variations ? REASONS.beamsVariations : compare ? REASONS.beamsCompare : "";
  setUsed("beams", !beamsReason, beamsReason || REASONS.beamsUsed);
  setUsed("temperature", variations, variations ? REASONS.temperatureUsed : REASONS.temperatureSingle);
}

function setUsed(id, used, hint) {
  $(id).disabled = !used;
  $(`${id}-help`).textContent = hint;
}

export function appendOptions(data) {
  const { compare, model, variations } = mode();
  if (compare) data.append("compare", "true");
  else data.append("model", model);
  if (variations) data.append("variations", "true");
  for (const [id] of SLIDERS) {
    const input = $(id);
    if (!input.disabled) data.append(input.name, input.value);
  }
}

// Versions from /v1/models; a model no worker has loaded cannot be chosen.
export function showVersions(models) {
  const worker = models.workers[0];
  if (!worker) return;
  for (const span of document.querySelectorAll(".version")) {
    const version = worker[span.dataset.model];
    span.textContent = version ? `(${version})` : "(not loaded)";
  }
  const noFinetuned = !worker.finetuned;
  for (const value of ["finetuned", "compare"]) {
    document.querySelector(`input[name="model"][value="${value}"]`).disabled = noFinetuned;
  }
  $("model-help").textContent = noFinetuned ? REASONS.noFinetuned : "";
  if (noFinetuned) document.querySelector('input[name="model"][value="pretrained"]').checked = true;
  syncControls();
}

export function setUpSettings() {
  for (const [id, digits] of SLIDERS) {
    const input = $(id);
    input.addEventListener("input", () => {
      $(`${id}-value`).textContent = Number(input.value).toFixed(digits);
    });
  }
  for (const input of document.querySelectorAll('input[name="model"], #variations')) {
    input.addEventListener("change", syncControls);
  }
  syncControls();
}
