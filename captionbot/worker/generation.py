"""Decoding captions for jobs: beam search for one caption, sampling for variations, each model from its own
prompt and within its own token limits (`LoadedModel.decoding`), the prompt cut from every reply.

Variations encode each image once and decode its three captions as rows of one batch, each row at its own
temperature, instead of three `generate` calls that each re-run the vision encoder.
"""

import torch
from transformers import LogitsProcessor, LogitsProcessorList, TopKLogitsWarper, TopPLogitsWarper

from captionbot.blip.decoding import decode_rows, encode_images, texts
from captionbot.worker.models import LoadedModel

TOP_K = 50
TOP_P = 0.95
RESAMPLE_ROUNDS = 2  # extra tries for a variation that repeats another


def tidy(text: str, max_words: int) -> str:
    return " ".join(text.split()[:max_words])


def decode(loaded: LoadedModel, tokens: torch.Tensor, max_words: int) -> list[str]:
    return [tidy(text, max_words) for text in texts(loaded.tokenizer, tokens)]


def token_budget(loaded: LoadedModel, max_words: int) -> int:
    """The decoding's max_length for `max_words`, within the decoder's positions: the whole sequence ([DEC],
    prompt, caption) must fit, or a small checkpoint would fail on a long `max_words` with an index error."""
    positions = loaded.model.config.text_config.max_position_embeddings
    return min(loaded.decoding.max_length_for(max_words), positions)


def token_limits(loaded: LoadedModel, max_words: int) -> dict[str, int]:
    """min_length / max_length for `generate`, counted as BLIP counts them: [DEC] and the prompt included."""
    max_length = token_budget(loaded, max_words)
    return {"min_length": min(loaded.decoding.min_length, max_length), "max_length": max_length}


class RowTemperature(LogitsProcessor):
    """Divides each row's logits by that row's temperature. temperatures: (R,)"""

    def __init__(self, temperatures: torch.Tensor) -> None:
        self.temperatures = temperatures

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return scores / self.temperatures.to(scores.device, scores.dtype).unsqueeze(1)  # (R, V)


def beam_captions(loaded: LoadedModel, pixel_values: torch.Tensor, beams: int, max_words: int) -> list[str]:
    """One caption per image. pixel_values: (B, 3, S, S)"""
    tokens = decode_rows(loaded.model, encode_images(loaded.model, pixel_values), loaded.prompt,
                         num_beams=beams, do_sample=False, **token_limits(loaded, max_words))
    return decode(loaded, tokens, max_words)


def sample_rows(
    loaded: LoadedModel, image_embeds: torch.Tensor, temperatures: torch.Tensor, max_words: int
) -> list[str]:
    """One sampled caption per row. image_embeds: (R, P, D); temperatures: (R,)"""
    processors = LogitsProcessorList([RowTemperature(temperatures), TopKLogitsWarper(TOP_K), TopPLogitsWarper(TOP_P)])
    tokens = decode_rows(loaded.model, image_embeds, loaded.prompt, do_sample=True, num_beams=1, temperature=1.0,
                         top_k=0, top_p=1.0, logits_processor=processors, **token_limits(loaded, max_words))
    return decode(loaded, tokens, max_words)


def variation_captions(
    loaded: LoadedModel, pixel_values: torch.Tensor, temperatures: tuple[float, ...], max_words: int
) -> list[list[str]]:
    """len(temperatures) different captions per image, in one vision pass and one decoding batch."""
    per_image = len(temperatures)
    embeds = encode_images(loaded.model, pixel_values).repeat_interleave(per_image, dim=0)  # (B*k, P, D)
    temps = torch.tensor(temperatures).repeat(pixel_values.shape[0])  # (B*k,)
    sampled = sample_rows(loaded, embeds, temps, max_words)
    captions = [sampled[i : i + per_image] for i in range(0, len(sampled), per_image)]
    for _ in range(RESAMPLE_ROUNDS):
        repeats = [(image, row) for image, rows in enumerate(captions) for row in _repeated(rows)]
        if not repeats:
            break
        index = torch.tensor([image * per_image + row for image, row in repeats])
        fresh = sample_rows(loaded, embeds[index], temps[index], max_words)
        for (image, row), text in zip(repeats, fresh):
            captions[image][row] = text
    return captions


def _repeated(rows: list[str]) -> list[int]:
    """Indexes of rows that repeat an earlier row."""
    seen: set[str] = set()
    repeated = []
    for index, text in enumerate(rows):
        if text in seen:
            repeated.append(index)
        seen.add(text)
    return repeated
