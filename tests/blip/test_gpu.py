"""What only CUDA runs: the decoding steps captured as CUDA graphs and replayed give the tokens the same steps
give uncaptured, and in bf16 the serving decoder and the fused vision attention stay within bf16's reach of
transformers' own generate and eager attention. Run on a GPU machine: `pytest -m gpu`."""


import pytest
import torch
from transformers import BlipForConditionalGeneration

from captionbot.blip import reference
from captionbot.blip.decoding import encode_images, token_limits
from captionbot.blip.loading import ModelSource, load_model
from captionbot.blip.serving_decoder import ServingDecoder

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def on_gpu(tiny_checkpoint):
    """The tiny model in bf16 on the GPU, images told apart (strong cross-attention) and captions of many lengths."""
    loaded = load_model("pretrained", ModelSource(str(tiny_checkpoint), "t"), CUDA, torch.bfloat16)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, weight in loaded.model.text_decoder.named_parameters():
            if "crossattention" in name and weight.dim() == 2:
                weight.copy_(torch.randn(weight.shape, generator=generator) * 0.5)
        loaded.model.text_decoder.cls.predictions.decoder.bias[loaded.model.config.text_config.sep_token_id] = 0.2
    return loaded


def images(count: int, seed: int) -> torch.Tensor:
    return torch.randn(count, 3, 64, 64, generator=torch.Generator().manual_seed(seed)).to(CUDA)


def test_replayed_graphs_give_the_uncaptured_steps_tokens(on_gpu) -> None:
    graphed = ServingDecoder(on_gpu.model)
    uncaptured = ServingDecoder(on_gpu.model)
    uncaptured.pool = None  # the same plans, stepped without capture
    for count, beams, max_words in ((1, 3, 20), (5, 3, 50), (12, 5, 20), (7, 1, 30)):
        embeds = encode_images(on_gpu, images(count, count))
        limits = token_limits(on_gpu, max_words)
        expected = uncaptured.beams(embeds, on_gpu.prompt, beams, *limits)
        assert torch.equal(graphed.beams(embeds, on_gpu.prompt, beams, *limits), expected)
    assert all(plan.graph is not None for plan in graphed.plans.values())


def test_bf16_beam_search_stays_with_generate(on_gpu) -> None:
    """bf16 rounds differently in fused kernels, so a near tie may go the other way; most captions agree."""
    decoder = ServingDecoder(on_gpu.model)
    embeds = encode_images(on_gpu, images(32, 1))
    min_length, max_length = token_limits(on_gpu, 20)
    expected = reference.beam_rows(on_gpu.model, embeds, on_gpu.prompt, 3, min_length, max_length)
    served = decoder.beams(embeds, on_gpu.prompt, 3, min_length, max_length)
    texts = [on_gpu.tokenizer.batch_decode(rows, skip_special_tokens=True) for rows in (expected, served)]
    assert sum(a == b for a, b in zip(*texts)) >= 0.8 * len(texts[0])


def test_sampling_in_graphs_gives_varied_captions_of_every_row(on_gpu) -> None:
    decoder = ServingDecoder(on_gpu.model)
    embeds = encode_images(on_gpu, images(4, 2))
    temperatures = torch.tensor([0.7, 1.0, 1.3] * 4, device=CUDA)
    rows = decoder.rows(embeds, on_gpu.prompt, 3, *token_limits(on_gpu, 20), temperatures)
    assert rows.shape[0] == 12 and len({tuple(row.tolist()) for row in rows}) > 6


def test_fused_vision_attention_in_bf16_is_eager_attention_within_bf16(tiny_checkpoint) -> None:
    fused = load_model("pretrained", ModelSource(str(tiny_checkpoint), "t"), CUDA, torch.bfloat16)
    eager = BlipForConditionalGeneration.from_pretrained(tiny_checkpoint, dtype=torch.bfloat16).to(CUDA).eval()
    batch = images(8, 3).to(torch.bfloat16)
    with torch.inference_mode():
        got, expected = fused.model.vision_model(pixel_values=batch)[0], eager.vision_model(pixel_values=batch)[0]
    assert torch.allclose(got.float(), expected.float(), atol=5e-2, rtol=5e-2)


def test_the_compiled_vision_encoder_is_the_fused_one_within_bf16(tiny_checkpoint) -> None:
    compiled = load_model("pretrained", ModelSource(str(tiny_checkpoint), "t"), CUDA, torch.bfloat16,
                          compile_vision=True)
    plain = load_model("pretrained", ModelSource(str(tiny_checkpoint), "t"), CUDA, torch.bfloat16)
    batch = images(4, 4).to(torch.bfloat16)
    with torch.inference_mode():
        got, expected = compiled.model.vision_model(pixel_values=batch)[0], plain.model.vision_model(pixel_values=batch)[0]
    assert torch.allclose(got.float(), expected.float(), atol=5e-2, rtol=5e-2)
    assert compiled.model.state_dict().keys() == plain.model.state_dict().keys()
