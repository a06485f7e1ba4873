"""Captions from pictures: the one function serving (the worker's engine), the validation during training and
`evaluate` / `report` all call, so they decode alike by construction.

Each model decodes from its own prompt and within its own token limits (`LoadedModel.decoding`), counted as
BLIP counts them; the prompt is cut from every caption. Variations encode each image once and decode its
captions as rows of one batch, each row at its own temperature.
"""

from contextlib import nullcontext

import torch

from captionbot.blip import reference
from captionbot.blip.loading import LoadedModel

RESAMPLE_ROUNDS = 2  # extra tries for a variation that repeats another


def autocast(loaded: LoadedModel):
    """Mixed precision over fp32 weights (training, evaluate); none where the weights are in their dtype."""
    if loaded.autocast is None or loaded.autocast == torch.float32:
        return nullcontext()
    return torch.autocast(loaded.device.type, dtype=loaded.autocast)


@torch.inference_mode()
def encode_images(loaded: LoadedModel, pixel_values: torch.Tensor) -> torch.Tensor:
    """Vision features, (B, P, D). pixel_values: (B, 3, S, S)"""
    weights = next(loaded.model.parameters())
    with autocast(loaded):
        return loaded.model.vision_model(pixel_values=pixel_values.to(weights.device, weights.dtype))[0]


def token_limits(loaded: LoadedModel, max_words: int | None) -> tuple[int, int]:
    """(min_length, max_length) of the whole decoder sequence, [DEC] and the prompt included."""
    return loaded.decoding.limits(max_words, loaded.model.config.text_config.max_position_embeddings)


def texts(loaded: LoadedModel, tokens: torch.Tensor, max_words: int | None = None) -> list[str]:
    """Token rows (the prompt already cut) to captions of at most `max_words` words (None: as decoded)."""
    decoded = loaded.tokenizer.batch_decode(tokens, skip_special_tokens=True)
    return [" ".join(text.split()[:max_words]) for text in decoded]


def beam_captions(loaded: LoadedModel, pixel_values: torch.Tensor, beams: int | None = None,
                  max_words: int | None = None) -> list[str]:
    """One caption per image, pixel_values (B, 3, S, S): beam search with the model's beams (or `beams`; one
    beam is greedy), within its token limits (widened for `max_words` above the default, and cut to it)."""
    min_length, max_length = token_limits(loaded, max_words)
    beams = beams or loaded.decoding.beams
    embeds = encode_images(loaded, pixel_values)
    with autocast(loaded):
        if loaded.decoder is not None:
            tokens = loaded.decoder.beams(embeds, loaded.prompt, beams, min_length, max_length)
        else:
            tokens = reference.beam_rows(loaded.model, embeds, loaded.prompt, beams, min_length, max_length)
    return texts(loaded, tokens, max_words)


def sample_rows(loaded: LoadedModel, image_embeds: torch.Tensor, temperatures: torch.Tensor,
                max_words: int | None = None, per_image: int = 1) -> list[str]:
    """`per_image` sampled captions of each image, one per temperature (image-major). image_embeds: (B, P, D);
    temperatures: (B * per_image,)"""
    min_length, max_length = token_limits(loaded, max_words)
    with autocast(loaded):
        if loaded.decoder is not None:
            tokens = loaded.decoder.rows(image_embeds, loaded.prompt, per_image, min_length, max_length,
                                         temperatures)
        else:
            tokens = reference.sampled_rows(loaded.model, image_embeds.repeat_interleave(per_image, dim=0),
                                            loaded.prompt, temperatures, min_length, max_length)
    return texts(loaded, tokens, max_words)


def variation_captions(loaded: LoadedModel, pixel_values: torch.Tensor, temperatures: tuple[float, ...],
                       max_words: int | None = None) -> list[list[str]]:
    """len(temperatures) different captions per image, in one vision pass and one decoding batch."""
    per_image = len(temperatures)
    embeds = encode_images(loaded, pixel_values)  # (B, P, D)
    temps = torch.tensor(temperatures, device=embeds.device).repeat(pixel_values.shape[0])  # (B*k,)
    sampled = sample_rows(loaded, embeds, temps, max_words, per_image)
    captions = [sampled[i : i + per_image] for i in range(0, len(sampled), per_image)]
    for _ in range(RESAMPLE_ROUNDS):
        repeats = [(image, row) for image, rows in enumerate(captions) for row in _repeated(rows)]
        if not repeats:
            break
        images = torch.tensor([image for image, _ in repeats], device=embeds.device)
        rows = torch.tensor([image * per_image + row for image, row in repeats], device=embeds.device)
        fresh = sample_rows(loaded, embeds[images], temps[rows], max_words)
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
