"""Choosing the next tokens, as tensor operations on the device with no host synchronisation inside a step:
beam search as transformers' `_beam_search` does it (length penalty, early stopping, its bookkeeping of
finished beams), and one token per row for greedy decoding and for sampling as transformers' `_sample` does
it (each row at its own temperature, top-k 50, then top-p 0.95).

Every state is updated in place, so one step has the same tensors every time and can be captured in a CUDA
graph; `cur_len` is a Python int when stepping eagerly or a 0-dim device tensor inside a graph. A state can
also be stepped past the point where transformers would stop: whatever is finished stays as it was, so
checking whether to stop every few steps gives the same captions as checking after every one.
"""

from dataclasses import dataclass

import torch

from captionbot.blip.decoder import Position

TOP_K = 50
TOP_P = 0.95
SHUT = -1.0e9  # transformers' score for a beam that must not be chosen


@dataclass(frozen=True)
class Limits:
    """Token limits counted over the whole sequence ([DEC] and the prompt included), as BLIP counts them."""

    prompt_length: int
    min_length: Position
    max_length: Position


def eos_barred(cur_len: Position, limits: Limits) -> torch.Tensor | bool:
    """Whether the end token may not come yet (transformers' MinLengthLogitsProcessor)."""
    return cur_len < limits.min_length


def _bar_eos(scores: torch.Tensor, eos: int, barred: torch.Tensor | bool) -> torch.Tensor:
    if isinstance(barred, bool):
        if barred:
            scores[:, eos] = -torch.inf
        return scores
    scores[:, eos] = torch.where(barred, -torch.inf, scores[:, eos])
    return scores


class BeamSearch:
    """`beams` running and `beams` finished hypotheses per image; rows are image-major (b * beams + k)."""

    def __init__(self, images: int, beams: int, length: int, eos: int, device: torch.device,
                 length_penalty: float = 1.0, early_stopping: bool | str = False) -> None:
        self.images, self.beams, self.eos = images, beams, eos
        self.length_penalty, self.early_stopping = length_penalty, early_stopping
        self.candidates = 2 * beams  # transformers keeps (1 + end tokens) * beams, at least 2 * beams
        self.running = torch.empty((images, beams, length), dtype=torch.long, device=device)
        self.finished = torch.empty_like(self.running)
        self.running_scores = torch.empty((images, beams), device=device)
        self.finished_scores = torch.empty((images, beams), device=device)
        self.is_finished = torch.empty((images, beams), dtype=torch.bool, device=device)
        self.improvable = torch.empty((images, 1), dtype=torch.bool, device=device)
        self.last_hit_all = torch.zeros((), dtype=torch.bool, device=device)
        self.first_beams = torch.arange(self.candidates, device=device) < beams
        self.row_base = torch.arange(images, device=device)[:, None] * beams

    def start(self, prompt: torch.Tensor, active: int | None = None) -> "BeamSearch":
        """Begin from the prompt (L,); only the first `active` images count (the rest pad a batch)."""
        # Sequences hold the prompt, then the chosen tokens; unwritten places hold the end token, as in
        # transformers (its fill value is `pad or eos`, and BLIP's pad id is 0).
        self.running.fill_(self.eos)
        self.running[:, :, : prompt.numel()] = prompt
        self.finished.copy_(self.running)
        self.running_scores.zero_()
        self.running_scores[:, 1:] = SHUT  # the beams start alike: only the first one's continuations count
        self.finished_scores.fill_(SHUT)
        self.is_finished.zero_()
        self.improvable.fill_(True)
        self.improvable[self.images if active is None else active :] = False
        self.last_hit_all.zero_()
        return self

    def tokens(self, cur_len: Position) -> torch.Tensor:
        """The last token of every running row, (R, 1): what the decoder reads next."""
        if isinstance(cur_len, int):
            return self.running[:, :, cur_len - 1].reshape(-1, 1)
        return self.running.index_select(2, (cur_len - 1).view(1)).reshape(-1, 1)

    def step(self, logits: torch.Tensor, cur_len: Position, limits: Limits) -> torch.Tensor:
        """Choose the continuations after `cur_len` tokens; the rows whose cache each new row takes, (R,).
        logits: (R, V) float32"""
        images, beams = self.images, self.beams
        log_probs = _bar_eos(torch.log_softmax(logits, dim=-1), self.eos, eos_barred(cur_len, limits))
        vocab = log_probs.shape[-1]
        scores = (log_probs.view(images, beams, vocab) + self.running_scores[:, :, None]).view(images, -1)
        top_scores, top_index = torch.topk(scores, self.candidates)  # (B, 2K)
        from_beam, token = top_index // vocab, top_index % vocab
        sequences = torch.take_along_dim(self.running, from_beam[:, :, None], dim=1)  # (B, 2K, T)
        _write(sequences, cur_len, token)
        hits = (token == self.eos) | (cur_len + 1 >= limits.max_length)  # (B, 2K)

        # The best `beams` continuations that have not ended keep running.
        open_scores = top_scores + hits.float() * SHUT
        keep = torch.topk(open_scores, beams).indices  # (B, K)
        self.running.copy_(torch.take_along_dim(sequences, keep[:, :, None], dim=1))
        self.running_scores.copy_(torch.take_along_dim(open_scores, keep, dim=1))
        rows = (torch.take_along_dim(from_beam, keep, dim=1) + self.row_base).view(-1)

        # Those that ended among the first `beams` candidates join the finished ones if they score better,
        # their log-probability divided by their length to the power of the length penalty.
        ended = hits & self.first_beams
        ended_scores = top_scores / ((cur_len + 1 - limits.prompt_length) ** self.length_penalty)
        if self.early_stopping is True:
            ended_scores = ended_scores + self.is_finished.all(dim=1, keepdim=True).float() * SHUT
        ended_scores = ended_scores + (~self.improvable).float() * SHUT + (~ended).float() * SHUT
        merged_scores = torch.cat((self.finished_scores, ended_scores), dim=1)
        best = torch.topk(merged_scores, beams).indices
        self.finished.copy_(torch.take_along_dim(torch.cat((self.finished, sequences), dim=1), best[:, :, None], dim=1))
        self.finished_scores.copy_(torch.take_along_dim(merged_scores, best, dim=1))
        self.is_finished.copy_(torch.take_along_dim(torch.cat((self.is_finished, ended), dim=1), best, dim=1))

        # Whether a running beam could still beat the worst finished one (transformers' heuristic).
        if self.early_stopping == "never" and self.length_penalty > 0.0:
            best_length = limits.max_length - limits.prompt_length
        else:
            best_length = cur_len + 1 - limits.prompt_length
        best_possible = self.running_scores[:, :1] / (best_length ** self.length_penalty)
        worst_finished = torch.where(self.is_finished, self.finished_scores.min(dim=1, keepdim=True).values, SHUT)
        self.improvable &= (best_possible > worst_finished).any(dim=-1, keepdim=True)
        self.last_hit_all.copy_(hits.all())
        return rows

    def done(self) -> torch.Tensor:
        """Whether transformers would have stopped: no image can improve, or every continuation ended."""
        open_beam = ~(self.is_finished.all() & (self.early_stopping is True))
        return ~(self.improvable.any() & open_beam & ~self.last_hit_all)

    def best(self, prompt_length: int) -> torch.Tensor:
        """The best finished hypothesis of each image, after the prompt, (B, T - prompt_length)."""
        return self.finished[:, 0, prompt_length:]


class RowSampler:
    """One new token per row: the most likely (greedy), or drawn after temperature, top-k and top-p."""

    def __init__(self, rows: int, length: int, eos: int, pad: int, device: torch.device, greedy: bool) -> None:
        self.eos, self.pad, self.greedy = eos, pad, greedy
        self.sequences = torch.empty((rows, length), dtype=torch.long, device=device)
        self.unfinished = torch.empty(rows, dtype=torch.bool, device=device)
        self.temperatures = torch.ones(rows, device=device)

    def start(self, prompt: torch.Tensor, active: int | None = None,
              temperatures: torch.Tensor | None = None) -> "RowSampler":
        """Begin from the prompt (L,); rows past `active` pad a batch. temperatures: (active,) when sampling."""
        self.sequences.fill_(self.pad)
        self.sequences[:, : prompt.numel()] = prompt
        self.unfinished.fill_(True)
        self.unfinished[len(self.unfinished) if active is None else active :] = False
        if temperatures is not None:
            self.temperatures[: len(temperatures)] = temperatures
        return self

    def tokens(self, cur_len: Position) -> torch.Tensor:
        if isinstance(cur_len, int):
            return self.sequences[:, cur_len - 1 : cur_len]
        return self.sequences.index_select(1, (cur_len - 1).view(1))

    def step(self, logits: torch.Tensor, cur_len: Position, limits: Limits,
             generator: torch.Generator | None = None) -> None:
        scores = _bar_eos(logits, self.eos, eos_barred(cur_len, limits))  # (R, V) float32
        token = scores.argmax(dim=-1) if self.greedy else self._draw(scores, generator)
        token = torch.where(self.unfinished, token, self.pad)
        _write(self.sequences, cur_len, token)
        self.unfinished &= ~((token == self.eos) | (cur_len + 1 >= limits.max_length))

    def _draw(self, scores: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A token drawn from softmax(top-p(top-k(scores / t))), as transformers' warpers shape it.

        Top-k first leaves 50 candidates (every other token has probability 0), so top-p only needs those 50;
        the draw is the exponential race (argmax of p / E, E ~ Exp(1)), which picks token i with probability
        p_i, like `torch.multinomial`, without a host synchronisation."""
        top, index = torch.topk(scores / self.temperatures[:, None], min(TOP_K, scores.shape[-1]))  # descending
        ascending, order = top.flip(-1), index.flip(-1)
        cumulative = torch.softmax(ascending, dim=-1).cumsum(dim=-1)
        removed = cumulative <= (1 - TOP_P)
        removed[:, -1] = False  # the most likely token always stays
        probabilities = torch.softmax(ascending.masked_fill(removed, -torch.inf), dim=-1)
        race = torch.empty_like(probabilities).exponential_(1, generator=generator)
        return order.gather(-1, (probabilities / race).argmax(dim=-1, keepdim=True)).squeeze(-1)

    def done(self) -> torch.Tensor:
        return ~self.unfinished.any()

    def generated(self, prompt_length: int) -> torch.Tensor:
        return self.sequences[:, prompt_length:]


def _write(sequences: torch.Tensor, cur_len: Position, token: torch.Tensor) -> None:
    """sequences[..., cur_len] = token"""
    if isinstance(cur_len, int):
        sequences[..., cur_len] = token
    else:
        sequences.index_copy_(sequences.dim() - 1, cur_len.view(1), token.unsqueeze(-1))
