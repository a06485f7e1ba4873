"""The serving decoder gives, token for token, what transformers' `generate` gives: beam search (3 and 5 beams)
and greedy decoding (1 beam), from the prompt, within BLIP's token limits at every max_words, with rows that end
at different steps; eagerly and through the static plans the GPU replays as graphs. Sampling draws from
generate's distribution. The comparisons can fail: a cache left in the wrong order is caught."""

import copy
from dataclasses import replace

import pytest
import torch
from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
from transformers import LogitsProcessorList, TopKLogitsWarper, TopPLogitsWarper

from captionbot.blip import reference
from captionbot.blip.decoder import KVCache
from captionbot.blip.decoding import beam_captions, encode_images, token_limits
from captionbot.blip.loading import ModelSource, int8_vision, load_model
from captionbot.blip.search import RowSampler
from captionbot.blip.serving_decoder import ServingDecoder, supports
from captionbot.core.jobs import MAX_WORDS

END_BIAS = 0.2  # makes the end token likely enough that the tiny model's captions end at different steps


def pixels(n: int, seed: int = 0, size: int = 64) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def caption_tokens(row: torch.Tensor, stop: tuple[int, ...]) -> list[int]:
    """A row's tokens up to its end token (transformers fills what follows with end or padding tokens)."""
    tokens = []
    for token in row.tolist():
        if token in stop:
            break
        tokens.append(token)
    return tokens


@pytest.fixture(scope="module")
def ending(tiny_loaded):
    """The tiny model, its end token made likely enough that captions end anywhere from 1 to 16 tokens."""
    loaded = replace(tiny_loaded, model=copy.deepcopy(tiny_loaded.model), decoder=None)  # generate decodes it
    with torch.no_grad():
        loaded.model.text_decoder.cls.predictions.decoder.bias[loaded.model.config.text_config.sep_token_id] = END_BIAS
    return loaded


def compare(loaded, decoder: ServingDecoder, embeds: torch.Tensor, beams: int, max_words: int):
    config = loaded.model.config.text_config
    stop = (config.sep_token_id, config.pad_token_id)
    min_length, max_length = token_limits(loaded, max_words)
    expected = reference.beam_rows(loaded.model, embeds, loaded.prompt, beams, min_length, max_length)
    served = decoder.beams(embeds, loaded.prompt, beams, min_length, max_length)
    return ([caption_tokens(row, stop) for row in expected], [caption_tokens(row, stop) for row in served])


@pytest.mark.parametrize("static", [False, True], ids=["eager", "static plans"])
def test_beam_search_and_greedy_give_generates_tokens(ending, static: bool) -> None:
    decoder = ServingDecoder(ending.model, static=static)
    lengths = set()
    cases = ((1, 20), (3, MAX_WORDS[0]), (3, 20), (3, MAX_WORDS[1]), (5, 35))  # (beams, max_words)
    if static:  # the same arithmetic but for attention's kernel: the cases that differ most in shape
        cases = cases[2:]
    for seed, images in ((0, 1), (1, 6)):
        embeds = encode_images(ending, pixels(images, seed))
        for beams, max_words in cases:
            expected, served = compare(ending, decoder, embeds, beams, max_words)
            assert served == expected, (seed, beams, max_words)
            lengths.update(len(tokens) for tokens in expected)
    assert len(lengths) >= 5  # rows ended at many different steps, some at the limit


def test_images_from_the_int8_vision_encoder_decode_to_generates_tokens(ending) -> None:
    """CPU_INT8 quantizes the vision encoder only; the serving decoder still gives generate's tokens."""
    loaded = replace(ending, model=int8_vision(copy.deepcopy(ending.model)))
    decoder = ServingDecoder(loaded.model, static=False)
    embeds = encode_images(loaded, pixels(6, seed=1))
    expected, served = compare(loaded, decoder, embeds, 3, 20)
    assert served == expected
    assert len({len(tokens) for tokens in expected}) > 1
    assert supports(loaded.model)
    whole = copy.deepcopy(loaded.model)
    quantize_(whole.text_decoder, Int8DynamicActivationInt8WeightConfig())
    assert not supports(whole)  # an int8 text decoder is decoded by generate


def test_the_comparison_fails_on_a_cache_left_in_the_wrong_order(ending, monkeypatch) -> None:
    """Beam search must move each continuing beam's self-attention cache with it; left unmoved, the decoder
    attends to another beam's past and the tokens differ from generate's."""
    decoder = ServingDecoder(ending.model, static=False)
    embeds = encode_images(ending, pixels(6, seed=2))
    expected, served = compare(ending, decoder, embeds, 3, 20)
    assert served == expected
    monkeypatch.setattr(KVCache, "reorder", lambda self, rows: None)
    expected, served = compare(ending, decoder, embeds, 3, 20)
    assert served != expected


def test_the_engine_path_decodes_with_the_serving_decoder_and_gives_generates_captions(ending) -> None:
    served = replace(ending, decoder=ServingDecoder(ending.model))
    batch = pixels(4, seed=5)
    assert beam_captions(served, batch, 3, 20) == beam_captions(ending, batch, 3, 20)


def test_a_blip_base_shaped_checkpoint_gives_generates_tokens(tmp_path) -> None:
    """One case at BLIP-base's shape (12 layers, 768 wide, 577 image tokens, 30524 words), fp32 on the CPU."""
    from captionbot.training.scratch import caption_words, save_random_blip

    folder = save_random_blip(tmp_path / "base", caption_words(["a picture of"]), shape="base", seed=3)
    loaded = load_model("pretrained", ModelSource(str(folder), "base"), torch.device("cpu"), torch.float32)
    assert loaded.decoder is not None
    with torch.no_grad():
        loaded.model.text_decoder.cls.predictions.decoder.bias[loaded.model.config.text_config.sep_token_id] = 9.0
    embeds = encode_images(loaded, pixels(2, seed=4, size=384))
    expected, served = compare(loaded, loaded.decoder, embeds, 3, 20)
    assert served == expected and any(expected)


def first_token_distribution(loaded, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits after the prompt for one image (sharpened: the random tiny model's are almost flat, and
    temperature must matter), and generate's sampling distribution over them."""
    embeds = encode_images(loaded, pixels(1, seed=7))
    decoder = ServingDecoder(loaded.model, static=False).decoder
    with torch.inference_mode():
        images = decoder.image_keys(embeds)
        cache = decoder.new_cache(1, 8, images.keys)
        logits = decoder(torch.tensor([loaded.prompt]), 0, cache, images) * 8  # (1, V)
        temperatures = torch.tensor([temperature])
        warped = LogitsProcessorList([reference.RowTemperature(temperatures), TopKLogitsWarper(reference.TOP_K),
                                      TopPLogitsWarper(reference.TOP_P)])(None, logits.clone())
    return logits, torch.softmax(warped, dim=-1)[0]


@pytest.mark.parametrize("temperature", [0.7, 1.3])
def test_sampling_draws_from_generates_distribution(tiny_loaded, temperature: float) -> None:
    """20,000 first tokens drawn by the serving decoder (seeded) against the probabilities generate's warpers
    give (temperature, top-k 50, top-p 0.95): total variation within sampling noise; a draw at another
    temperature is told apart."""
    logits, expected = first_token_distribution(tiny_loaded, temperature)
    draws = 20_000
    sampler = RowSampler(draws, 8, eos=-1, pad=0, device=torch.device("cpu"), greedy=False)

    def drawn_at(factor: float) -> torch.Tensor:
        sampler.start(torch.tensor(tiny_loaded.prompt), temperatures=torch.full((draws,), temperature * factor))
        tokens = sampler._draw(logits.expand(draws, -1).clone(), torch.Generator().manual_seed(0))
        return torch.bincount(tokens, minlength=len(expected)).float() / draws

    assert (expected > 0).sum() > 5  # a real choice among several tokens
    assert 0.5 * (drawn_at(1.0) - expected).abs().sum() < 0.03
    assert 0.5 * (drawn_at(2.0) - expected).abs().sum() > 0.06


def test_settings_the_decoder_does_not_cover_fall_back_to_generate(tiny_checkpoint) -> None:
    loaded = load_model("pretrained", ModelSource(str(tiny_checkpoint), "t"), torch.device("cpu"), torch.float32)
    assert loaded.decoder is not None and supports(loaded.model)
    loaded.model.text_decoder.generation_config.repetition_penalty = 1.3
    assert not supports(loaded.model)
    off = load_model("pretrained", ModelSource(str(tiny_checkpoint), "t"), torch.device("cpu"), torch.float32,
                     serving_decoder=False)
    assert off.decoder is None  # SERVING_DECODER=false


def test_fused_vision_attention_equals_transformers_eager_attention(tiny_checkpoint) -> None:
    from transformers import BlipForConditionalGeneration

    fused = load_model("pretrained", ModelSource(str(tiny_checkpoint), "t"), torch.device("cpu"), torch.float32)
    assert type(fused.model.vision_model.encoder.layers[0].self_attn).__name__ == "FusedBlipAttention"
    eager = BlipForConditionalGeneration.from_pretrained(tiny_checkpoint).eval()
    batch = pixels(3, seed=8)
    with torch.inference_mode():
        expected = eager.vision_model(pixel_values=batch)[0]
        got = fused.model.vision_model(pixel_values=batch)[0]
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(got[0], got[1], atol=1e-3)  # images differ, so equality means something
    assert fused.model.state_dict().keys() == eager.state_dict().keys()  # saved and loaded as before
