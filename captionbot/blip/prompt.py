"""Where every caption starts: the decoder's start token [DEC] and the prompt's word pieces, as BLIP's
`BLIP_Decoder` starts them; the same pieces are masked out of the training loss and cut from every caption."""

from captionbot.blip.recipe import Decoding


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
