"""Decoding captions from the prompt, as BLIP's `BLIP_Decoder.generate` does: the decoder starts from [DEC]
and the prompt's tokens, the token limits count those tokens too, and the prompt is cut from the output.

`core.decoding.Decoding` says which prompt and limits a model decodes with; this module runs them.
"""

from contextlib import nullcontext

import torch

from captionbot.core.decoding import Decoding


class PromptError(ValueError):
    """A prompt the model's tokenizer cannot spell, or too long for the token limit."""


def prompt_ids(tokenizer, bos_token_id: int, decoding: Decoding) -> list[int]:
    """[DEC] and the prompt's word pieces: where every caption starts in training and decoding, and what is
    cut from it. The same pieces as the prompt has at the head of "prompt + caption" (it ends with a space)."""
    pieces = tokenizer(decoding.prompt, add_special_tokens=False).input_ids if decoding.prompt.strip() else []
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in pieces:
        raise PromptError(f"the prompt {decoding.prompt!r} has words its tokenizer does not know")
    ids = [bos_token_id, *pieces]
    if len(ids) >= decoding.max_length:
        raise PromptError(f"the prompt {decoding.prompt!r} takes {len(ids)} of the {decoding.max_length} tokens "
                          "a caption may have")
    return ids


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Mixed precision for fp32 weights (training, evaluate); None or fp32: none."""
    if dtype is None or dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@torch.inference_mode()
def encode_images(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """Vision features, (B, P, D), in the dtype of the model's weights."""
    weights = next(model.parameters())
    return model.vision_model(pixel_values=pixel_values.to(weights.device, weights.dtype))[0]


@torch.inference_mode()
def decode_rows(model, image_embeds: torch.Tensor, prompt: list[int], **generate_kwargs) -> torch.Tensor:
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


def texts(tokenizer, tokens: torch.Tensor) -> list[str]:
    return [" ".join(text.split()) for text in tokenizer.batch_decode(tokens, skip_special_tokens=True)]


def beam_search(model, tokenizer, pixel_values: torch.Tensor, decoding: Decoding, beams: int | None = None,
                max_length: int | None = None, dtype: torch.dtype | None = None) -> list[str]:
    """One caption per image, pixel_values (B, 3, S, S): the model's decoding, unless beams or max_length say
    otherwise. `dtype`: autocast for fp32 weights; serving loads the weights in their dtype instead."""
    device = next(model.parameters()).device
    prompt = prompt_ids(tokenizer, model.config.text_config.bos_token_id, decoding)
    with autocast(device, dtype):
        tokens = decode_rows(model, encode_images(model, pixel_values), prompt, num_beams=beams or decoding.beams,
                             do_sample=False, min_length=decoding.min_length,
                             max_length=max_length or decoding.max_length)
    return texts(tokenizer, tokens)
