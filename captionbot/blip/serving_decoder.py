"""The serving decoder of one loaded model: beam search, greedy decoding and sampling over `TextDecoder`, eager
and exact on the CPU (`loop.py`), replayed from CUDA graphs on a GPU (`graphs.py`). Token for token it gives
what transformers' `generate` gives (tests/blip/test_serving_decoder.py); `decoding.py` falls back to
`generate` for the settings it does not cover (`supports`).
"""

import torch
from transformers import GenerationConfig

from captionbot.blip.decoder import TextDecoder
from captionbot.blip.graphs import BUCKETS, Arena, Plan, PlanKey, bucket, cache_length
from captionbot.blip.loop import run_beams, run_rows
from captionbot.blip.search import Limits

CHECK_EVERY = 4  # graph replays between two reads of whether every row is done (each read waits for the GPU)
# Generation settings that add logits processors this decoder does not apply; any of them set in a
# checkpoint's generation config sends its decoding to transformers' `generate`.
UNSUPPORTED = ("repetition_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
               "force_words_ids", "forced_bos_token_id", "forced_eos_token_id", "suppress_tokens",
               "begin_suppress_tokens", "sequence_bias", "exponential_decay_length_penalty", "renormalize_logits",
               "remove_invalid_values", "typical_p", "epsilon_cutoff", "eta_cutoff", "min_p", "diversity_penalty",
               "num_beam_groups", "constraints", "guidance_scale", "watermarking_config", "min_new_tokens")


def supports(model) -> bool:
    """Whether this decoder reproduces `generate` for the model: a text decoder of plain Linear layers and
    weights (not quantized: CPU_INT8 quantizes the vision encoder only) and a generation config that asks for
    nothing but beams, lengths, length penalty and early stopping."""
    decoder = model.text_decoder
    quantized = ("torch.ao", "torchao")
    if any(type(part).__module__.startswith(quantized) for part in [*decoder.modules(), *decoder.parameters()]):
        return False
    config, default = model.text_decoder.generation_config, GenerationConfig()
    return all(getattr(config, name, None) == getattr(default, name, None) for name in UNSUPPORTED)


class ServingDecoder:
    def __init__(self, model, static: bool | None = None) -> None:
        """`static`: decode through plans of fixed tensors (by default on CUDA, where their steps are captured
        as graphs); elsewhere eagerly and exactly. A static CPU decoder runs the GPU's arithmetic without the
        graphs, for tests."""
        weights = next(model.parameters())
        self.device = weights.device
        self.static = self.device.type == "cuda" if static is None else static
        self.decoder = TextDecoder(model.text_decoder, exact=not self.static)
        text_config, generation = model.config.text_config, model.text_decoder.generation_config
        self.eos, self.pad = text_config.sep_token_id, text_config.pad_token_id
        # Unset (None) in transformers v5's configs means generate's defaults: 1.0 and False.
        self.length_penalty = 1.0 if generation.length_penalty is None else float(generation.length_penalty)
        self.early_stopping = False if generation.early_stopping is None else generation.early_stopping
        self.images = Arena.shared("image keys", self.device, weights.dtype)
        self.caches = Arena.shared("self-attention cache", self.device, weights.dtype)
        self.plans: dict[PlanKey, Plan] = {}
        self.pool = torch.cuda.graph_pool_handle() if self.device.type == "cuda" and self.static else None

    @torch.inference_mode()
    def beams(self, image_embeds: torch.Tensor, prompt: list[int], beams: int, min_length: int,
              max_length: int) -> torch.Tensor:
        """Beam search (greedy at one beam), one token row per image after the prompt. image_embeds: (B, P, D)"""
        if beams == 1:
            return self.rows(image_embeds, prompt, 1, min_length, max_length)
        if not self.static:
            limits = Limits(len(prompt), min_length, max_length)
            return run_beams(self.decoder, self.decoder.image_keys(image_embeds), prompt, beams, limits, self.eos,
                             self.length_penalty, self.early_stopping)
        return self._in_chunks(image_embeds, prompt, "beams", beams, min_length, max_length, None)

    @torch.inference_mode()
    def rows(self, image_embeds: torch.Tensor, prompt: list[int], rows_per_image: int, min_length: int,
             max_length: int, temperatures: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """`rows_per_image` rows per image: greedy without temperatures, else sampled, row r at
        temperatures[r] (top-k 50, top-p 0.95). (B * rows_per_image, max_length - prompt length)"""
        if not self.static:
            limits = Limits(len(prompt), min_length, max_length)
            return run_rows(self.decoder, self.decoder.image_keys(image_embeds), prompt, rows_per_image, limits,
                            self.eos, self.pad, temperatures, generator)
        kind = "greedy" if temperatures is None else "sample"
        return self._in_chunks(image_embeds, prompt, kind, rows_per_image, min_length, max_length, temperatures)

    def _in_chunks(self, image_embeds: torch.Tensor, prompt: list[int], kind: str, group: int, min_length: int,
                   max_length: int, temperatures: torch.Tensor | None) -> torch.Tensor:
        """Batches larger than the largest bucket, a bucket at a time."""
        size, out = BUCKETS[-1], []
        for start in range(0, image_embeds.shape[0], size):
            temps = None if temperatures is None else temperatures[start * group : (start + size) * group]
            out.append(self._graphed(image_embeds[start : start + size], prompt, kind, group, min_length,
                                     max_length, temps))
        return torch.cat(out)

    def _graphed(self, image_embeds: torch.Tensor, prompt: list[int], kind: str, group: int, min_length: int,
                 max_length: int, temperatures: torch.Tensor | None) -> torch.Tensor:
        count, prompt_length = image_embeds.shape[0], len(prompt)
        key = PlanKey(kind, group, bucket(count), cache_length(max_length, self.decoder.positions), prompt_length,
                      image_embeds.shape[1])
        with self.images.lock, self.caches.lock:
            plan = self._plan(key)
            # The batch's images into the plan's slots; the prompt through the decoder, and the first choice.
            fresh = self.decoder.image_keys(image_embeds)
            plan.images.keys[:, :count].copy_(fresh.keys)
            plan.images.values[:, :count].copy_(fresh.values)
            del fresh
            ids = torch.tensor(prompt, dtype=torch.long, device=self.device)
            rows = key.images * group
            plan.limits.min_length.fill_(min_length)
            plan.limits.max_length.fill_(max_length)
            logits = self.decoder(ids.expand(rows, -1), 0, plan.cache, plan.images)
            first = Limits(prompt_length, min_length, max_length)
            if key.kind == "beams":
                plan.search.start(ids, active=count)
                plan.cache.reorder(plan.search.step(logits, prompt_length, first))
            else:
                plan.search.start(ids, active=count * group, temperatures=temperatures)
                plan.search.step(logits, prompt_length, first)
            plan.cur_len.fill_(prompt_length + 1)
            # Then one replay a step, reading whether all are done every few steps.
            steps = max_length - prompt_length - 1
            for done_steps in range(steps):
                if done_steps % CHECK_EVERY == 0 and bool(plan.search.done()):
                    break
                plan.replay()
            if key.kind == "beams":
                tokens = plan.search.best(prompt_length)[:count]
            else:
                tokens = plan.search.generated(prompt_length)[: count * group]
            return tokens[:, : max_length - prompt_length].clone()

    def _plan(self, key: PlanKey) -> Plan:
        arenas = (self.images.generation, self.caches.generation)
        plan = self.plans.get(key)
        if plan is not None and plan.generation == arenas:
            return plan
        plan = Plan(key, self.decoder, self.images, self.caches, self.device, self.eos, self.pad,
                    self.length_penalty, self.early_stopping)
        if plan.generation != arenas:
            self.plans.clear()  # the arenas grew for this plan: the others read the old buffers
        if self.pool is not None and key.length > key.prompt_length + 1:
            plan.search.start(torch.zeros(key.prompt_length, dtype=torch.long, device=self.device),
                              **({"temperatures": torch.ones(1, device=self.device)} if key.kind == "sample" else {}))
            plan.capture(self.pool)
        self.plans[key] = plan
        return plan
