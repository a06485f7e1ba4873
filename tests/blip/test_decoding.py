"""Decoding: batched beam search equals unbatched; per-row temperatures are applied; variations differ."""

import torch

from captionbot.blip.decoding import beam_captions, encode_images, sample_rows, token_limits, variation_captions


def pixels(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 64, 64, generator=generator)


def test_batched_beam_search_gives_the_same_tokens_as_one_at_a_time(tiny_loaded):
    batch = pixels(4)
    together = beam_captions(tiny_loaded, batch, beams=3, max_words=20)
    alone = [beam_captions(tiny_loaded, batch[i : i + 1], beams=3, max_words=20)[0] for i in range(4)]
    assert together == alone
    assert len(set(together)) > 1  # different images, different captions: the test can tell them apart


def test_a_row_at_very_low_temperature_is_the_greedy_caption(tiny_loaded):
    image = pixels(1, seed=3)
    greedy = beam_captions(tiny_loaded, image, beams=1, max_words=20)[0]
    embeds = encode_images(tiny_loaded, image).repeat(3, 1, 1)
    torch.manual_seed(0)
    rows = sample_rows(tiny_loaded, embeds, torch.tensor([1e-4, 5.0, 5.0]), max_words=20)
    assert rows[0] == greedy
    assert rows[1] != greedy or rows[2] != greedy  # hot rows sample something else


def test_variations_are_three_different_captions_per_image(tiny_loaded):
    torch.manual_seed(1)
    captions = variation_captions(tiny_loaded, pixels(2), (0.7, 1.0, 1.3), max_words=12)
    assert [len(c) for c in captions] == [3, 3]
    for rows in captions:
        assert len(set(rows)) == 3
        assert all(1 <= len(row.split()) <= 12 for row in rows)


def test_max_words_cuts_captions(tiny_loaded):
    (caption,) = beam_captions(tiny_loaded, pixels(1), beams=2, max_words=10)
    assert len(caption.split()) <= 10


def test_int8_cpu_option_quantizes_the_vision_encoder_only(tiny_checkpoint, tiny_loaded):
    from captionbot.blip.loading import ModelSource, load_model

    loaded = load_model("pretrained", ModelSource(str(tiny_checkpoint), "t"), torch.device("cpu"), torch.float32,
                        cpu_int8=True)
    quantized = {name.split(".")[0] for name, weight in loaded.model.named_parameters()
                 if type(weight).__module__.startswith("torchao.quantization")}
    assert quantized == {"vision_model"}  # the text decoder stays fp32, stepped by the serving decoder
    assert loaded.decoder is not None
    images = pixels(4)
    int8, fp32 = encode_images(loaded, images), encode_images(tiny_loaded, images)
    assert not torch.equal(int8, fp32)
    # What tells the images apart survives quantization (their shared part would hide a broken int8 path).
    int8, fp32 = int8 - int8.mean(0), fp32 - fp32.mean(0)
    assert (int8 - fp32).norm() < 0.01 * fp32.norm()
    (caption,) = beam_captions(loaded, images[:1], beams=2, max_words=10)
    assert caption.strip()


def test_token_limits_count_the_prompt_as_blip_does(tiny_loaded):
    """BLIP's COCO captioner: 5 to 20 decoder tokens, [DEC] and "a picture of" included; more words, more room."""
    from captionbot.blip.reference import beam_rows

    assert tiny_loaded.decoding.prompt == "a picture of "  # no recorded decoding: CAPTION_PROMPT's default
    assert len(tiny_loaded.prompt) == 4  # [DEC] a picture of
    assert token_limits(tiny_loaded, 20) == (5, 20)
    assert token_limits(tiny_loaded, 10) == (5, 20)  # cut by words instead
    assert token_limits(tiny_loaded, 30) == (5, 35)
    embeds = encode_images(tiny_loaded, pixels(2))
    tokens = beam_rows(tiny_loaded.model, embeds, tiny_loaded.prompt, 3, *token_limits(tiny_loaded, 20))
    assert len(tiny_loaded.prompt) + tokens.shape[1] <= 20
    assert all(len(tiny_loaded.prompt) + int((row != tiny_loaded.model.config.text_config.pad_token_id).sum()) >= 5
               for row in tokens)


def test_the_token_limit_stays_within_the_decoders_positions(tiny_loaded):
    """The largest max_words asks for more tokens ([DEC], prompt and caption) than the tiny decoder has
    positions (64): the limit is those positions, and decoding to it does not fail."""
    from captionbot.core.jobs import MAX_WORDS

    positions = tiny_loaded.model.config.text_config.max_position_embeddings
    assert tiny_loaded.decoding.max_length_for(MAX_WORDS[1]) > positions
    assert token_limits(tiny_loaded, MAX_WORDS[1]) == (5, positions)
    for beams in (1, 3):
        (caption,) = beam_captions(tiny_loaded, pixels(1), beams=beams, max_words=MAX_WORDS[1])
        assert caption.strip()
    torch.manual_seed(2)
    assert all(len(rows) == 3 for rows in variation_captions(tiny_loaded, pixels(1), (0.7, 1.0, 1.3), MAX_WORDS[1]))


def test_a_compare_decodes_each_model_with_its_own_beams_not_the_jobs(tiny_loaded):
    """Fairness: /compare decodes each model as it was meant to be (the pretrained one as BLIP's COCO
    captioner, 3 beams), whatever beams the job names; a single-model job takes the job's beams."""
    import io

    from PIL import Image

    from captionbot.core.jobs import Job, Options
    from captionbot.core.settings import Settings
    from captionbot.worker.engine import CaptionEngine

    engine = CaptionEngine(Settings(_env_file=None), {"pretrained": tiny_loaded, "finetuned": tiny_loaded})
    try:
        images = []
        for seed in range(6):
            out = io.BytesIO()
            noise = (pixels(1, seed)[0].permute(1, 2, 0).clamp(-2, 2) * 60 + 128).to(torch.uint8).numpy()
            Image.fromarray(noise).save(out, format="PNG")
            images.append(out.getvalue())

        def captions(image: bytes, models: tuple[str, ...], beams: int) -> list[str]:
            result = engine.run(Job(image=image, models=models, options=Options(beams=beams)))
            return [result.results[name].captions[0] for name in models]

        single = [(captions(image, ("pretrained",), 3)[0], captions(image, ("pretrained",), 1)[0]) for image in images]
        assert any(three != one for three, one in single)  # beams matter for these images: the test can tell
        for image, (three, _) in zip(images, single):
            assert captions(image, ("pretrained", "finetuned"), 1) == [three, three]
    finally:
        engine.close()
