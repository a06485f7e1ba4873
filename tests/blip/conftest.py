import pytest
import torch

from captionbot.blip.loading import ModelSource, load_model


@pytest.fixture(scope="session")
def tiny_loaded(tiny_checkpoint):
    """The tiny checkpoint, its cross-attention made strong enough that different images get different
    captions (random weights at BLIP's init scale caption every image alike)."""
    loaded = load_model("pretrained", ModelSource(str(tiny_checkpoint), "tiny"), torch.device("cpu"), torch.float32)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, weight in loaded.model.text_decoder.named_parameters():
            if "crossattention" in name and weight.dim() == 2:
                weight.copy_(torch.randn(weight.shape, generator=generator) * 0.5)
    return loaded
