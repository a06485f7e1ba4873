"""Decoding with transformers' own `generate` over BLIP's text decoder: the reference the serving decoder is
tested against, and what decodes where the serving decoder does not apply (a quantized model, a setting it
does not cover)."""

import torch
from transformers import LogitsProcessor, LogitsProcessorList, TopKLogitsWarper, TopPLogitsWarper

TOP_K = 50
TOP_P = 0.95


class RowTemperature(LogitsProcessor):
    """Divides each row's logits by that row's temperature. temperatures: (R,)"""

    def __init__(self, temperatures: torch.Tensor) -> None:
        self.temperatures = temperatures

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return scores / self.temperatures.to(scores.device, scores.dtype).unsqueeze(1)  # (R, V)


@torch.inference_mode()
def generate_rows(model, image_embeds: torch.Tensor, prompt: list[int], **generate_kwargs) -> torch.Tensor:
    """The tokens after the prompt, (R, T), one row per row of image_embeds (R, P, D)."""
    text_config = model.config.text_config
    rows = image_embeds.shape[0]
    input_ids = torch.tensor([prompt], dtype=torch.long, device=image_embeds.device).repeat(rows, 1)
    sequences = model.text_decoder.generate(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        encoder_hidden_states=image_embeds,
        encoder_attention_mask=torch.ones(image_embeds.shape[:2], dtype=torch.long, device=image_embeds.device),
        eos_token_id=text_config.sep_token_id,
        pad_token_id=text_config.pad_token_id,
        **generate_kwargs,
    )  # (R, len(prompt) + T)
    return sequences[:, len(prompt):]


def beam_rows(model, image_embeds: torch.Tensor, prompt: list[int], beams: int, min_length: int,
              max_length: int) -> torch.Tensor:
    """Beam search (greedy at one beam), one row of tokens per image. image_embeds: (B, P, D)"""
    return generate_rows(model, image_embeds, prompt, num_beams=beams, do_sample=False, min_length=min_length,
                         max_length=max_length)


def sampled_rows(model, image_embeds: torch.Tensor, prompt: list[int], temperatures: torch.Tensor,
                 min_length: int, max_length: int) -> torch.Tensor:
    """One sampled row per row of image_embeds (R, P, D), each at its own temperature, top-k then top-p."""
    processors = LogitsProcessorList([RowTemperature(temperatures), TopKLogitsWarper(TOP_K), TopPLogitsWarper(TOP_P)])
    return generate_rows(model, image_embeds, prompt, do_sample=True, num_beams=1, temperature=1.0, top_k=0,
                         top_p=1.0, logits_processor=processors, min_length=min_length, max_length=max_length)
