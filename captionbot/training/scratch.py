"""BLIP checkpoints from random weights: a tiny one to train on the CPU (tests, the offline demo) and one
of BLIP-base's shape for benchmarks. Each is a real `save_pretrained` folder that `from_pretrained` reads."""

import re
from pathlib import Path

from transformers import BertTokenizerFast, BlipConfig, BlipForConditionalGeneration, BlipProcessor
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

from captionbot.training.options import RANDOM_PREFIX

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
BASE_VOCAB_SIZE = 30524  # BLIP-base: BERT's 30522 + [DEC] + [ENC]
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

TINY = {
    "vision": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, patch_size=8),
    "text": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4),
    "image_size": 64,
}


def caption_words(captions: list[str]) -> list[str]:
    """The lowercase words of some captions, in first-seen order."""
    seen: dict[str, None] = {}
    for caption in captions:
        for word in re.findall(r"[a-z0-9]+|[^\sa-z0-9]", caption.lower()):
            seen.setdefault(word, None)
    return list(seen)


def build_vocab(words: list[str], size: int | None = None) -> list[str]:
    """Special tokens, the given words, then single letters and digits (and their ## pieces) so any text
    tokenizes; padded with [unusedN] up to `size` when given."""
    pieces = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    vocab = list(dict.fromkeys(SPECIAL_TOKENS + words + pieces + ["##" + p for p in pieces] + list(".,!?'-")))
    if size is not None:
        vocab += [f"[unused{i}]" for i in range(size - len(vocab))]
    return vocab


def make_processor(vocab: list[str], image_size: int, work_dir: Path) -> BlipProcessor:
    vocab_path = work_dir / "vocab.txt"
    vocab_path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab=str(vocab_path), do_lower_case=True, bos_token="[DEC]", model_max_length=512)
    image_processor = BlipImageProcessorPil(
        size={"height": image_size, "width": image_size}, image_mean=CLIP_MEAN, image_std=CLIP_STD
    )
    return BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def make_config(vocab: list[str], shape: str = "tiny") -> BlipConfig:
    ids = {token: i for i, token in enumerate(vocab)}
    token_ids = dict(
        vocab_size=len(vocab),
        bos_token_id=ids["[DEC]"],
        sep_token_id=ids["[SEP]"],
        eos_token_id=ids["[SEP]"],
        pad_token_id=ids["[PAD]"],
    )
    # BlipVisionConfig's default initializer_range (1e-10) suits loading trained weights, not training from
    # scratch: every image would encode to almost the same features.
    if shape == "base":
        return BlipConfig(text_config=token_ids, vision_config={"initializer_range": 0.02})
    vision = dict(TINY["vision"], image_size=TINY["image_size"], initializer_range=0.02)
    text = dict(TINY["text"], max_position_embeddings=64, **token_ids)
    return BlipConfig(text_config=text, vision_config=vision, projection_dim=32)


def save_random_blip(output: Path, words: list[str], shape: str = "tiny", seed: int = 0) -> Path:
    """Write a randomly initialised BLIP captioner with its processor to `output`."""
    import torch

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    vocab = build_vocab(words, BASE_VOCAB_SIZE if shape == "base" else None)
    config = make_config(vocab, shape)
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config)
    processor = make_processor(vocab, config.vision_config.image_size, output)
    model.save_pretrained(output)
    processor.save_pretrained(output)
    return output


def write_random_base(base: str, texts: list[str], output: Path, seed: int) -> Path:
    """`--base random:tiny` / `random:base`: a random-weight BLIP whose vocabulary holds the words of `texts`
    (the training captions and the prompt)."""
    return save_random_blip(output, caption_words(texts), shape=base.removeprefix(RANDOM_PREFIX), seed=seed)
