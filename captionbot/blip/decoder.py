"""BLIP's text decoder run step by step for serving, over the checkpoint's own modules and weights
(transformers loads, trains and saves them; this only calls them in another order).

Two changes from transformers' own decoding loop, neither of which changes the arithmetic of a row:

- **Self-attention keys and values** live in one cache allocated up front for the longest caption of the
  batch, `(layers, R, H, T, d)`, written in place at each position, so a step allocates nothing and has the
  same shapes every time (what a CUDA graph needs).
- **Cross-attention keys and values** over the image's patches are computed once per image and shared by its
  rows (its beams, or its variations): the rows of one image are the queries of one attention over that
  image's keys, `(B, H, G, d) @ (B, H, d, P)`, instead of `G` copies reordered at every beam step.

`exact` (the CPU) computes attention in transformers' own order (matmul, scale, softmax, matmul) over exactly
the positions written so far, so a row's logits are transformers' to the last bit; elsewhere attention runs in
`scaled_dot_product_attention` (fused kernels) over the whole cache with the unwritten positions masked.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

Position = int | torch.Tensor  # a Python int when stepping eagerly, a 0-dim device tensor inside a CUDA graph


@dataclass
class KVCache:
    """Self-attention keys and values of every layer for R rows and up to T positions."""

    keys: torch.Tensor  # (layers, R, H, T, d)
    values: torch.Tensor  # (layers, R, H, T, d)

    def reorder(self, rows: torch.Tensor) -> None:
        """Row r takes what row rows[r] held (beam search keeping the best continuations). rows: (R,)"""
        self.keys.copy_(self.keys.index_select(1, rows))
        self.values.copy_(self.values.index_select(1, rows))


@dataclass
class ImageKeys:
    """Cross-attention keys and values of every layer for B images, shared by the G rows of each image."""

    keys: torch.Tensor  # (layers, B, H, P, d)
    values: torch.Tensor  # (layers, B, H, P, d)

    @property
    def images(self) -> int:
        return self.keys.shape[1]


class TextDecoder:
    """Runs `BlipTextLMHeadModel` with a `KVCache` and shared `ImageKeys`. Rows are grouped by image: rows
    g*G .. g*G+G-1 belong to image g."""

    def __init__(self, text_decoder: nn.Module, exact: bool) -> None:
        config = text_decoder.config
        self.embeddings = text_decoder.bert.embeddings
        self.layers = list(text_decoder.bert.encoder.layer)
        self.head = text_decoder.cls
        self.heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.positions = config.max_position_embeddings
        self.exact = exact

    def image_keys(self, image_embeds: torch.Tensor) -> ImageKeys:
        """Each layer's cross-attention keys and values of the images, once. image_embeds: (B, P, D)"""
        keys, values = [], []
        for layer in self.layers:
            attention = layer.crossattention.self
            keys.append(self._split(attention.key(image_embeds)))
            values.append(self._split(attention.value(image_embeds)))
        return ImageKeys(torch.stack(keys), torch.stack(values))

    def new_cache(self, rows: int, length: int, like: torch.Tensor) -> KVCache:
        shape = (len(self.layers), rows, self.heads, length, self.head_dim)
        return KVCache(like.new_zeros(shape), like.new_zeros(shape))

    def __call__(self, tokens: torch.Tensor, start: Position, cache: KVCache, images: ImageKeys) -> torch.Tensor:
        """Next-token logits in float32, (R, V), after the tokens (R, S) at positions start .. start+S-1."""
        length = tokens.shape[1]
        if isinstance(start, int):
            positions = torch.arange(start, start + length, device=tokens.device).unsqueeze(0)
        else:
            positions = (start + torch.arange(length, device=tokens.device)).unsqueeze(0)
        hidden = self.embeddings(input_ids=tokens, position_ids=positions)  # (R, S, D)
        # Query i (at position start + i) sees the cache's positions up to its own: (S, T).
        visible = torch.arange(cache.keys.shape[3], device=tokens.device)[None, :] <= positions[0][:, None]
        for index, layer in enumerate(self.layers):
            attended = self._self_attention(layer.attention, hidden, start, cache, index, visible)
            crossed = self._cross_attention(layer.crossattention, attended, images, index)
            hidden = layer.output(layer.intermediate(crossed), crossed)
        return self.head(hidden[:, -1]).float()

    def _split(self, states: torch.Tensor) -> torch.Tensor:
        """(N, S, H*d) -> (N, H, S, d)"""
        return states.view(*states.shape[:2], self.heads, self.head_dim).transpose(1, 2)

    def _merge(self, context: torch.Tensor) -> torch.Tensor:
        """(N, H, S, d) -> (N, S, H*d)"""
        return context.permute(0, 2, 1, 3).reshape(context.shape[0], context.shape[2], -1)

    def _self_attention(self, attention: nn.Module, hidden: torch.Tensor, start: Position, cache: KVCache,
                        index: int, visible: torch.Tensor) -> torch.Tensor:
        module, length = attention.self, hidden.shape[1]
        query = self._split(module.query(hidden))  # (R, H, S, d)
        keys, values = cache.keys[index], cache.values[index]  # (R, H, T, d)
        if isinstance(start, int):
            keys[:, :, start : start + length] = self._split(module.key(hidden))
            values[:, :, start : start + length] = self._split(module.value(hidden))
        else:
            slots = start + torch.arange(length, device=hidden.device)
            keys.index_copy_(2, slots, self._split(module.key(hidden)))
            values.index_copy_(2, slots, self._split(module.value(hidden)))
        if self.exact and isinstance(start, int):
            written = start + length
            context = self._eager_attention(query, keys[:, :, :written], values[:, :, :written],
                                            visible[:, :written] if length > 1 else None)
        else:
            context = F.scaled_dot_product_attention(query, keys, values, attn_mask=visible)
        return attention.output(self._merge(context), hidden)

    def _cross_attention(self, attention: nn.Module, hidden: torch.Tensor, images: ImageKeys,
                         index: int) -> torch.Tensor:
        rows, length, width = hidden.shape
        group = rows // images.images
        query = self._split(attention.self.query(hidden))  # (R, H, S, d)
        # The G rows of an image as G*S queries of one attention over that image's keys: (B, H, G*S, d).
        query = query.view(images.images, group, self.heads, length, self.head_dim)
        query = query.transpose(1, 2).reshape(images.images, self.heads, group * length, self.head_dim)
        keys, values = images.keys[index], images.values[index]  # (B, H, P, d)
        if self.exact:
            context = self._eager_attention(query, keys, values)
        else:
            context = F.scaled_dot_product_attention(query, keys, values)
        context = context.view(images.images, self.heads, group, length, self.head_dim).transpose(1, 2)
        context = context.reshape(rows, self.heads, length, self.head_dim)  # (R, H, S, d)
        return attention.output(self._merge(context), hidden)

    def _eager_attention(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                         visible: torch.Tensor | None = None) -> torch.Tensor:
        """transformers' order of operations: (q @ kᵀ) / √d, masked with its most negative number, softmax, @ v."""
        scores = torch.matmul(query, keys.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if visible is not None:
            scores = scores.masked_fill(~visible, torch.finfo(scores.dtype).min)
        return torch.matmul(torch.softmax(scores, dim=-1), values)
