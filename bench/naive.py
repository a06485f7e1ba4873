"""The seed's naive pipeline, kept only as the benchmarks' baseline: the full image through `BlipProcessor`,
one `generate` per request, three for variations, two full passes for compare, no batching."""

import io
import threading

import torch
from PIL import Image
from transformers import AutoProcessor, BlipForConditionalGeneration

VARIATION_TEMPERATURES = (0.7, 1.0, 1.3)


class NaivePipeline:
    def __init__(self, finetuned: str, pretrained: str, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.dtype = device, dtype
        self.models = {
            name: (BlipForConditionalGeneration.from_pretrained(path, dtype=dtype).to(device).eval(), AutoProcessor.from_pretrained(path))
            for name, path in (("finetuned", finetuned), ("pretrained", pretrained))
        }
        self._lock = threading.Lock()  # one model, one request at a time: what a plain handler does

    def inputs(self, name: str, data: bytes) -> torch.Tensor:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        return self.models[name][1](images=image, return_tensors="pt").pixel_values.to(self.device, self.dtype)

    @torch.inference_mode()
    def caption(self, data: bytes, mode: str = "single", compare: bool = False, max_words: int = 20) -> dict:
        names = ("finetuned", "pretrained") if compare else ("finetuned",)
        out = {}
        for name in names:
            model, processor = self.models[name]
            pixel_values = self.inputs(name, data)
            with self._lock:
                if mode == "variations":
                    sequences = [
                        model.generate(pixel_values=pixel_values, do_sample=True, temperature=t, top_k=50, top_p=0.95, max_new_tokens=int(max_words * 1.5) + 2, min_new_tokens=5)
                        for t in VARIATION_TEMPERATURES
                    ]
                else:
                    sequences = [model.generate(pixel_values=pixel_values, num_beams=3, max_new_tokens=int(max_words * 1.5) + 2, min_new_tokens=5)]
            out[name] = [processor.decode(s[0], skip_special_tokens=True) for s in sequences]
        return out
