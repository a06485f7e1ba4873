// Copying text: the Clipboard API where the page is a secure context, a selected text area elsewhere (plain
// http on a trusted network has no Clipboard API). Returns the sentence to show.
import { SAY } from "./say.js";

export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
    else copyWithSelection(text);
    return SAY.copied;
  } catch {
    return SAY.copyFailed;
  }
}

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
