"""The contact-centre language model of the offline English engine.

pocketsphinx's general English model knows which words follow which in newspaper text, not
what agents and customers say. This module writes a small trigram model in ARPA format from
the organisation's own words (:file:`texts/lm_en.txt`: greetings, hold announcements, requests
to repeat, recaps, promises, what customers call about; and the example phrases of the
scorecard's English guidance) and mixes it with the general model's word frequencies, so
any word of the general vocabulary can still be recognised:

* unigrams: ``weight`` x the domain frequency + (1 - ``weight``) x the general model's;
* bigrams and trigrams: the domain's, interpolated absolute discounting (``DISCOUNT``)
  written in ARPA's back-off form (the back-off weight of a history is the mass its seen
  words gave up, so every distribution sums to one).

Pure apart from reading the text files; the engine reads the general frequencies from the
pocketsphinx model and caches the written file (see :mod:`escucha.speech.engines`).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from importlib import resources

from escucha.yamlio import load_text

#: Changes when the model is built differently (cached files are keyed by it).
VERSION = 1
#: Absolute discount of every seen bigram and trigram.
DISCOUNT = 0.7
#: Log10 probability written for the sentence start (never predicted).
_NEVER = -99.0
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def words_of(text: str) -> list[str]:
    """Lower-case words with their apostrophes (``i'll``, ``customer's``)."""
    return _WORD.findall(text.lower().replace("’", "'"))


def domain_sentences(lang: str) -> list[list[str]]:
    """The domain text of ``lang`` and the quoted examples of the scorecard's guidance."""
    if lang != "en":
        raise ValueError(f"no domain text for {lang!r}")
    text = resources.files("escucha.speech").joinpath("texts", f"lm_{lang}.txt").read_text("utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    card = resources.files("escucha.qa").joinpath("scorecards", "default.yaml")
    data = load_text(card.read_text("utf-8"), "scorecards/default.yaml")
    for section in data.get("sections", []):
        for criterion in section.get("criteria", []):
            guidance = (criterion.get("guidance") or {}).get(lang, "")
            lines.extend(re.findall(r'"([^"]+)"', guidance))
    return [w for w in (words_of(line) for line in lines) if w]


def build_arpa(
    sentences: Iterable[list[str]],
    general: Mapping[str, float],
    *,
    weight: float = 0.5,
    known: frozenset[str] | None = None,
) -> str:
    """A trigram ARPA model of ``sentences`` mixed with ``general`` unigram probabilities
    (word -> probability; they need not sum to one, they are normalised here).

    Sentences with a word outside ``known`` (the pronouncing dictionary) are dropped: the
    decoder cannot use a word it cannot pronounce.
    """
    if not 0.0 < weight <= 1.0:
        raise ValueError(f"weight must be in (0, 1]: {weight}")
    kept = [s for s in sentences if s and (known is None or all(w in known for w in s))]
    if not kept:
        raise ValueError("no domain sentence to build a language model from")
    counts: list[Counter[tuple[str, ...]]] = [Counter(), Counter(), Counter()]
    for sentence in kept:
        padded = ["<s>", *sentence, "</s>"]
        for n in (1, 2, 3):
            for i in range(len(padded) - n + 1):
                gram = tuple(padded[i : i + n])
                if gram != ("<s>",):
                    counts[n - 1][gram] += 1
    # unigrams: the domain's and the general model's, mixed
    tokens = sum(counts[0].values())
    general_total = sum(general.values()) or 1.0
    vocab = set(general) | {g[0] for g in counts[0]}
    p1: dict[str, float] = {}
    for w in vocab:
        p1[w] = (
            weight * counts[0][(w,)] / tokens + (1 - weight) * general.get(w, 0.0) / general_total
        )
    p1 = {w: p for w, p in p1.items() if p > 0}
    # bigrams and trigrams: interpolated absolute discounting
    probs: list[dict[tuple[str, ...], float]] = [{(w,): p for w, p in p1.items()}, {}, {}]
    backoff: list[dict[tuple[str, ...], float]] = [{}, {}, {}]
    for n in (2, 3):
        by_history: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
        for gram, c in counts[n - 1].items():
            by_history[gram[:-1]].append((gram[-1], c))
        for history, seen in by_history.items():
            total = sum(c for _, c in seen)
            gamma = DISCOUNT * len(seen) / total
            backoff[n - 2][history] = gamma
            for w, c in seen:
                lower = _prob(probs, backoff, (*history[1:], w))
                probs[n - 1][(*history, w)] = (c - DISCOUNT) / total + gamma * lower
    return _write(probs, backoff)


def _prob(
    probs: list[dict[tuple[str, ...], float]],
    backoff: list[dict[tuple[str, ...], float]],
    gram: tuple[str, ...],
) -> float:
    """P(last word | the others) in the back-off model built so far."""
    n = len(gram)
    if gram in probs[n - 1]:
        return probs[n - 1][gram]
    if n == 1:
        return 0.0
    return backoff[n - 2].get(gram[:-1], 1.0) * _prob(probs, backoff, gram[1:])


def _write(
    probs: list[dict[tuple[str, ...], float]], backoff: list[dict[tuple[str, ...], float]]
) -> str:
    lines = ["\\data\\"]
    unigrams = dict(probs[0])
    unigrams[("<s>",)] = 0.0
    sizes = [len(unigrams), len(probs[1]), len(probs[2])]
    lines += [f"ngram {n}={size}" for n, size in enumerate(sizes, 1)]
    for n, table in enumerate([unigrams, probs[1], probs[2]], 1):
        lines += ["", f"\\{n}-grams:"]
        for gram in sorted(table):
            p = table[gram]
            logp = _NEVER if gram == ("<s>",) else math.log10(p)
            line = f"{logp:.4f}\t{' '.join(gram)}"
            if n < 3 and gram in backoff[n - 1]:
                line += f"\t{math.log10(backoff[n - 1][gram]):.4f}"
            lines.append(line)
    lines += ["", "\\end\\", ""]
    return "\n".join(lines)
