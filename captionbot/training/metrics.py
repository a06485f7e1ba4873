"""The COCO caption metrics, scored by pycocoevalcap exactly as its own `COCOEvalCap` does.

BLEU-1..4, METEOR, ROUGE-L and CIDEr (CIDEr-D, with IDF from the references being scored: scores of a subset
are not comparable with scores of a full split). Captions are tokenized by the Stanford PTB tokenizer, which
runs on Java, as METEOR does; without `java` on PATH a pure-Python tokenizer stands in (with a warning, since
scores then differ slightly from published ones) and METEOR is left out (None). SPICE is never run: it
downloads a model on first use and fails offline.

pycocoevalcap (about 100 MB with its jars) is imported when a score is asked for, not with this module, so
whatever imports the trainer (a benchmark, a worker of a search) does not load it.
"""

import logging
import re
import shutil
from collections.abc import Iterable, Mapping

from captionbot.core.per_process import PerProcess

log = logging.getLogger(__name__)

METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")
PTB_SYMBOLS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-", '"': "''"}
CLITIC = re.compile(r"^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$")
LEADING = "\"'`([{"
TRAILING = "\"'`)]}.,;:!?"
NO_JAVA_WARNING = (
    "Java is not on PATH: captions are tokenized by a pure-Python stand-in for the PTB tokenizer (scores may "
    "differ slightly from published ones) and METEOR is left out. Install a Java runtime (e.g. `apt-get install "
    "default-jre-headless`) for the standard scores."
)


def java_available() -> bool:
    return shutil.which("java") is not None


def _split_word(word: str) -> list[str]:
    """PTB-like pieces of one whitespace-separated word (lowercase already)."""
    head: list[str] = []
    tail: list[str] = []
    while word and word[0] in LEADING:
        head.append(word[0])
        word = word[1:]
    while word and word[-1] in TRAILING and not (word[-1] == "." and "." in word[:-1] and len(word) > 2):
        tail.insert(0, word[-1])
        word = word[:-1]
    clitic = CLITIC.match(word)
    middle = [clitic.group(1), clitic.group(2)] if clitic else ([word] if word else [])
    return [PTB_SYMBOLS.get(piece, piece) for piece in head + middle + tail]


def simple_tokenize(caption: str) -> str:
    """Lowercase, split punctuation and clitics off as the PTB tokenizer does, drop pycocoevalcap's
    PUNCTUATIONS. Equal to the PTB tokenizer on plain captions; used only where Java is missing."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS

    pieces = [piece for word in caption.lower().split() for piece in _split_word(word)]
    return " ".join(piece for piece in pieces if piece not in PUNCTUATIONS and piece.strip("."))


def tokenize(captions: Mapping[str, list[str]], use_java: bool) -> dict[str, list[str]]:
    if use_java:
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        return PTBTokenizer().tokenize({key: [{"caption": c} for c in values] for key, values in captions.items()})
    return {key: [simple_tokenize(c) for c in values] for key, values in captions.items()}


def score(
    references: Mapping[str, list[str]],
    predictions: Mapping[str, str],
    metrics: Iterable[str] = METRICS,
) -> dict[str, float | None]:
    """Score one predicted caption per image against that image's references; keys as in METRICS.

    Every predicted image needs references; references of images without a prediction are ignored."""
    missing = sorted(set(predictions) - set(references))
    if missing:
        raise ValueError(f"{len(missing)} predicted images have no references, e.g. '{missing[0]}'.")
    if not predictions:
        raise ValueError("There are no predictions to score.")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    wanted = set(metrics)
    use_java = java_available()
    if not use_java:
        log.warning(NO_JAVA_WARNING)
    ids = sorted(predictions)
    gts = tokenize({i: list(references[i]) for i in ids}, use_java)
    res = tokenize({i: [predictions[i]] for i in ids}, use_java)
    scores: dict[str, float | None] = {}
    if wanted & {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"}:
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        scores.update({f"BLEU-{n}": float(value) for n, value in enumerate(bleu, 1)})
    if "METEOR" in wanted:
        scores["METEOR"] = _meteor(gts, res) if use_java else None
    if "ROUGE-L" in wanted:
        scores["ROUGE-L"] = float(Rouge().compute_score(gts, res)[0])
    if "CIDEr" in wanted:
        scores["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    return {name: scores[name] for name in METRICS if name in scores and name in wanted}


def _meteor_process():
    from pycocoevalcap.meteor.meteor import Meteor

    return Meteor()


# One METEOR Java process per process (it takes seconds to start, milliseconds to score); a forked child
# starts its own rather than write into its parent's pipes.
_meteor_scorer = PerProcess(_meteor_process)


def _meteor(gts: dict[str, list[str]], res: dict[str, list[str]]) -> float:
    return float(_meteor_scorer.get().compute_score(gts, res)[0])
