"""The serving decoder's loop: the prompt through the decoder, then one step after another until every row is
done. On CUDA the steps are replayed from CUDA graphs (`graphs.py`) and whether to stop is read every few
steps; elsewhere they run eagerly and stop as soon as transformers would.

Returns token rows after the prompt, ended by the end token; the caller decodes them to text.
"""

import torch

from captionbot.blip.decoder import ImageKeys, TextDecoder
from captionbot.blip.search import BeamSearch, Limits, RowSampler


def _prompt_rows(prompt: list[int], rows: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.tensor(prompt, dtype=torch.long, device=device)
    return ids, ids.expand(rows, -1)


def run_beams(decoder: TextDecoder, images: ImageKeys, prompt: list[int], beams: int, limits: Limits,
              eos: int, length_penalty: float, early_stopping: bool | str) -> torch.Tensor:
    """Beam search (beams >= 2), one row per image: (B, max_length - prompt length)."""
    device = images.keys.device
    count = images.images
    ids, prompt_rows = _prompt_rows(prompt, count * beams, device)
    cache = decoder.new_cache(count * beams, limits.max_length, images.keys)
    search = BeamSearch(count, beams, limits.max_length, eos, device, length_penalty, early_stopping).start(ids)
    logits = decoder(prompt_rows, 0, cache, images)
    for cur_len in range(len(prompt), limits.max_length):
        if cur_len > len(prompt):
            logits = decoder(search.tokens(cur_len), cur_len - 1, cache, images)
        cache.reorder(search.step(logits, cur_len, limits))
        if bool(search.done()):
            break
    return search.best(len(prompt))


def run_rows(decoder: TextDecoder, images: ImageKeys, prompt: list[int], rows_per_image: int, limits: Limits,
             eos: int, pad: int, temperatures: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Greedy (no temperatures) or sampled rows, `rows_per_image` per image: (R, max_length - prompt length)."""
    device = images.keys.device
    rows = images.images * rows_per_image
    ids, prompt_rows = _prompt_rows(prompt, rows, device)
    cache = decoder.new_cache(rows, limits.max_length, images.keys)
    sampler = RowSampler(rows, limits.max_length, eos, pad, device, greedy=temperatures is None)
    sampler.start(ids, temperatures=temperatures)
    logits = decoder(prompt_rows, 0, cache, images)
    for cur_len in range(len(prompt), limits.max_length):
        if cur_len > len(prompt):
            logits = decoder(sampler.tokens(cur_len), cur_len - 1, cache, images)
        sampler.step(logits, cur_len, limits, generator)
        if bool(sampler.done()):
            break
    return sampler.generated(len(prompt))
