// A file is called ready only once it is known to be an image: its type read from its first bytes, as the API
// reads it (captionbot/core/images.py), then decoded whole by the browser (a file cut short fails here, where
// an <img> would show what arrived). A refusal is the API's own sentence; a good image yields its thumbnail.
import { ACCEPTED } from "./say.js";

const ascii = (text) => Array.from(text, (char) => char.charCodeAt(0));
const ACCEPTED_SIGNATURES = [
  ["JPEG", 0, [0xff, 0xd8, 0xff]],
  ["PNG", 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ["GIF", 0, ascii("GIF87a")],
  ["GIF", 0, ascii("GIF89a")],
  ["WEBP", 8, ascii("WEBP")], // after "RIFF" and the size
  ["BMP", 0, ascii("BM")],
];
// Images the API recognises and refuses by name.
const OTHER_SIGNATURES = [
  ["TIFF", 0, [0x49, 0x49, 0x2a, 0x00]],
  ["TIFF", 0, [0x4d, 0x4d, 0x00, 0x2a]],
  ["PSD", 0, ascii("8BPS")],
];
const CORRUPT =
  `That image is damaged or cut short and could not be decoded; send a complete ${ACCEPTED} file.`;

const startsWith = (bytes, offset, signature) => signature.every((byte, i) => bytes[offset + i] === byte);
const formatOf = (bytes, signatures) =>
  (signatures.find(([, offset, signature]) => startsWith(bytes, offset, signature)) || [null])[0];

function describe(bytes) {
  const text = (end) => String.fromCharCode(...bytes.subarray(0, end)).toLowerCase();
  const head = text(512).replace(/^[ \t\n\r\v\f]+/, "");
  if (head.includes("<svg") || (head.startsWith("<?xml") && text(4096).includes("svg"))) return "an SVG drawing";
  if (head.startsWith("<!doctype html") || head.includes("<html")) return "a web page";
  if (head.startsWith("%pdf")) return "a PDF document";
  const other = formatOf(bytes, OTHER_SIGNATURES);
  return other ? `a ${other} image, which is not supported` : "not an image";
}

const THUMB_SIDE = 96;
const refused = (code, message) => ({ ok: false, code, message });

function thumbnailOf(bitmap) {
  const scale = Math.min(1, THUMB_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", 0.7);
}

// {ok: true, format, thumb} (a small JPEG data URL) or {ok: false, code, message}, with the API's codes.
export async function checkImage(file) {
  if (file.size === 0) return refused("image_empty", `That file is empty; send a ${ACCEPTED} file.`);
  const bytes = new Uint8Array(await file.slice(0, 4096).arrayBuffer());
  const format = formatOf(bytes, ACCEPTED_SIGNATURES);
  if (!format || (format === "WEBP" && !startsWith(bytes, 0, ascii("RIFF")))) {
    return refused("image_unsupported", `That file is ${describe(bytes)}; send a ${ACCEPTED} file.`);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return refused("image_corrupt", CORRUPT);
  }
  try {
    return { ok: true, format, thumb: thumbnailOf(bitmap) };
  } finally {
    bitmap.close();
  }
}
