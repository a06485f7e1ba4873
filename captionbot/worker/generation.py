"""Decoding captions from pixel values: beam search for one caption, sampling for variations.

Variations encode each image once and decode its three captions as rows of one batch, each row at its own
temperature, instead of three `generate` calls that each re-run the vision encoder.
"""

import torch
from transformers import LogitsProcessor, LogitsProcessorList, TopKLogitsWarper, TopPLogitsWarper

from captionbot.worker.models import LoadedModel

MIN_NEW_TOKENS = 5  # as the BLIP paper's COCO captioner
TOP_K = 50
TOP_P = 0.95
RESAMPLE_ROUNDS = 2  # extra tries for a variation that repeats another


def max_new_tokens(max_words: int) -> int:
    """Word pieces per word run about 1.3 in captions; leave room, then cut by words in `tidy`."""
    return int(max_words * 1.5) + 2


def token_budget(loaded: LoadedModel, max_words: int) -> int:
    """`max_new_tokens` within the decoder's positions (position 0 holds the start token): a small checkpoint
    with few positions would otherwise fail on a long `max_words` with an index error."""
    positions = loaded.model.config.text_config.max_position_embeddings
    return min(max_new_tokens(max_words), positions - 1)


def tidy(text: str, max_words: int) -> str:
    return " ".join(text.split()[:max_words])


def decode(loaded: LoadedModel, sequences: torch.Tensor, max_words: int) -> list[str]:
    texts = loaded.tokenizer.batch_decode(sequences, skip_special_tokens=True)
    return [tidy(text, max_words) for text in texts]


class RowTemperature(LogitsProcessor):
    """Divides each row's logits by that row's temperature. temperatures: (R,)"""

    def __init__(self, temperatures: torch.Tensor) -> None:
        self.temperatures = temperatures

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return scores / self.temperatures.to(scores.device, scores.dtype).unsqueeze(1)  # (R, V)


@torch.inference_mode()
def beam_captions(loaded: LoadedModel, pixel_values: torch.Tensor, beams: int, max_words: int) -> list[str]:
    """One caption per image. pixel_values: (B, 3, S, S)"""
    sequences = loaded.model.generate(
        pixel_values=pixel_values.to(loaded.device, loaded.dtype),
        num_beams=beams,
        do_sample=False,
        max_new_tokens=token_budget(loaded, max_words),
        min_new_tokens=MIN_NEW_TOKENS,
    )
    return decode(loaded, sequences, max_words)


@torch.inference_mode()
def encode_images(loaded: LoadedModel, pixel_values: torch.Tensor) -> torch.Tensor:
    """Vision features, (B, P, D)."""
    return loaded.model.vision_model(pixel_values=pixel_values.to(loaded.device, loaded.dtype))[0]


@torch.inference_mode()
def sample_rows(
    loaded: LoadedModel, image_embeds: torch.Tensor, temperatures: torch.Tensor, max_words: int
) -> list[str]:
    """One sampled caption per row. image_embeds: (R, P, D); temperatures: (R,)"""
    text_config = loaded.model.config.text_config
    rows = image_embeds.shape[0]
    input_ids = torch.full((rows, 1), text_config.bos_token_id, dtype=torch.long, device=image_embeds.device)
    processors = LogitsProcessorList([RowTemperature(temperatures), TopKLogitsWarper(TOP_K), TopPLogitsWarper(TOP_P)])
    sequences = loaded.model.text_decoder.generate(
        input_ids=input_ids,
        encoder_hidden_states=image_embeds,
        encoder_attention_mask=torch.ones(image_embeds.shape[:2], dtype=torch.long, device=image_embeds.device),
        eos_token_id=text_config.sep_token_id,
        pad_token_id=text_config.pad_token_id,
        do_sample=True,
        num_beams=1,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        logits_processor=processors,
        max_new_tokens=token_budget(loaded, max_words),
        min_new_tokens=MIN_NEW_TOKENS,
    )
    return decode(loaded, sequences, max_words)


def variation_captions(
    loaded: LoadedModel, pixel_values: torch.Tensor, temperatures: tuple[float, ...], max_words: int
) -> list[list[str]]:
    """len(temperatures) different captions per image, in one vision pass and one decoding batch."""
    per_image = len(temperatures)
    embeds = encode_images(loaded, pixel_values).repeat_interleave(per_image, dim=0)  # (B*k, P, D)
    temps = torch.tensor(temperatures).repeat(pixel_values.shape[0])  # (B*k,)
    texts = sample_rows(loaded, embeds, temps, max_words)
    captions = [texts[i : i + per_image] for i in range(0, len(texts), per_image)]
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
