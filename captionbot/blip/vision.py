"""BLIP's vision encoder on fused attention: `scaled_dot_product_attention` (flash or memory-efficient kernels
on a GPU) over the checkpoint's own `qkv` and `projection` weights, in place of transformers' eager
matmul-softmax-matmul, which BLIP offers no switch for. Training, `evaluate` and serving all run it; the
parameters, their names and `save_pretrained` are untouched."""

import torch
import torch.nn.functional as F
from transformers.models.blip.modeling_blip import BlipAttention


class FusedBlipAttention(BlipAttention):
    """`BlipAttention` with the same weights, attending through `scaled_dot_product_attention`."""

    def forward(self, hidden_states: torch.Tensor, **kwargs) -> tuple[torch.Tensor, None]:
        batch, tokens, width = hidden_states.shape
        qkv = self.qkv(hidden_states).reshape(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        dropout = self.dropout.p if self.training else 0.0
        context = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], dropout_p=dropout, scale=self.scale)
        return self.projection(context.transpose(1, 2).reshape(batch, tokens, width)), None  # (B, N, D)


def fuse_vision_attention(model) -> None:
    """Every attention of the model's vision encoder becomes a `FusedBlipAttention`, in place."""
    for layer in model.vision_model.encoder.layers:
        layer.self_attn.__class__ = FusedBlipAttention
