// Every sentence the page says itself. A refused request shows the API's own sentence (the problem's `detail`),
// the same one the chat bots give.
export const ACCEPTED = "JPEG, PNG, WebP, GIF or BMP";
export const MAX_BATCH = 100;

export const SAY = {
  noImage: "Choose, drop or paste an image first.",
  noFiles: "That was not a file; drop or paste an image file.",
  busy: "Wait for the captions in progress, or cancel them, before choosing more images.",
  tooMany: (count) => `That is ${count} files; choose at most ${MAX_BATCH} at a time.`,
  ready: (name) => `${name} is ready: press Caption.`,
  readyMany: (count) => `${count} images are ready: press Caption to caption them one after another.`,
  skipped: (names) => `Not images, so left out: ${names}.`,
  checking: "Checking the files…",
  working: (name) => `Captioning ${name}…`,
  workingBatch: (index, count, name) => `Captioning ${index} of ${count}: ${name}…`,
  waiting: (seconds) => `The captioner asked to wait; going on in ${seconds} s.`,
  done: "Captioned.",
  doneBatch: (done, refused) =>
    `Captioned ${done} image${done === 1 ? "" : "s"}` + (refused ? `; ${refused} refused (see the list below).` : "."),
  cancelled: "Cancelled; nothing more is sent.",
  copied: "Copied to the clipboard.",
  copyFailed: "The browser did not allow copying; select the caption and copy it yourself.",
  unreachable: "The captioner could not be reached; check your connection and try again.",
  keyForgotten: "The key is forgotten in this tab; enter one to caption again.",
  keyAccepted: "Key accepted: choose an image.",
  sampleFailed: "That sample photo could not be loaded; try another or choose a file.",
  noWorker:
    "No captioner is running right now, so images cannot be captioned; an operator has to start a worker. " +
    "This page checks again every 15 seconds.",
  serverGone: "The captioner's server cannot be reached; check your connection. This page checks again every 15 seconds.",
  historyCleared: "The list is cleared.",
};

// Why a control is off in the chosen mode: the same reasons the API gives in `options.ignored`.
export const REASONS = {
  beamsCompare: "Not used: a compare decodes each model with the beams it was made for.",
  beamsVariations: "Not used: variations are sampled, not found by beam search.",
  beamsUsed: "1 to 5: more beams search longer for a likelier caption.",
  temperatureSingle: "Not used: only variations are sampled; turn on Three variations.",
  temperatureUsed: "0.5 to 2.0: higher makes the variations more adventurous.",
  noFinetuned: "No fine-tuned model is loaded, so only the pretrained one can caption.",
};
