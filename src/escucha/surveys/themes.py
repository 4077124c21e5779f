"""Voice of the customer: survey comments and complaint texts grouped into themes (M3).

Texts in Spanish and English are reduced to content words (accents folded, the stop words
below removed, a trailing plural ``s`` dropped), weighted with TF-IDF over words and word
pairs, and grouped with k-means (scikit-learn). The number of themes is chosen by the
silhouette score unless given. Each theme has a stable ``key`` built from its top terms, a
``label`` people can edit (pass ``labels={key: "..."}``), its members and a weekly trend.

Themes describe *what went wrong in the process* (billing, waits, technicians...). Agents'
names are not themes: pass them as ``extra_stop_words`` so no theme points at a person.
Deterministic for a given ``seed``.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS_ES: frozenset[str] = _words(
    """
    a al algo algun alguna algunas alguno algunos ante antes aqui asi aun aunque bajo bien
    cada casi como con contra cual cuales cuando cuanto de del desde donde dos el ella ellas
    ello ellos en entre era eran eres es esa esas ese eso esos esta estaba estaban estado
    estais estamos estan estar estas este esto estos estoy fue fueron fui ha habia han has
    hasta hay he hemos la las le les lo los mas me mi mis mismo mucho muchos muy nada ni no
    nos nosotros nuestra nuestro o otra otras otro otros para pero poco por porque pues que
    quien se ser si sin sobre solo son soy su sus tambien tan tanto te tener tengo tiene
    tienen todo todos tu tus un una uno unos usted ustedes vez y ya yo vosotros vuestra
    vuestro hace hacer hizo han sido sea ver vez veces dia dias hoy ayer ahora luego despues
    bueno buena gracias hola favor vale mucha muchas ademas cosa cosas puede pueden poder
    dijo dicen decir creo parece tras segun mediante durante siempre nunca tampoco todavia
    mal mejor peor igual otra vez cual esto eso aquello alli ahi
    """
)

STOP_WORDS_EN: frozenset[str] = _words(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves im ive id ill youre dont didnt doesnt wasnt werent cant couldnt
    wont isnt arent got get gets getting also even still really much many lot lots thing
    things said say says told tell one two back day days today yesterday thanks thank
    please hello hi ok okay yes like well ever never always
    """
)

_TOKEN = re.compile(r"[a-z]+")
_WORD = re.compile(r"[^\W\d_]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'").replace("'", ""))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


@dataclass(frozen=True)
class Comment:
    """A text from a customer: a survey comment or a complaint."""

    id: str
    text: str
    at: datetime | date | None = None
    source: str = "survey"


@dataclass(frozen=True)
class Theme:
    """A group of similar texts.

    ``key`` is built from the top terms and stays the same across runs on the same data;
    ``label`` defaults to the top terms and is what people edit. ``weekly`` maps the
    Monday of each ISO week to the number of members dated in it.
    """

    key: str
    label: str
    top_terms: tuple[str, ...]
    member_ids: tuple[str, ...]
    weekly: dict[str, int]

    @property
    def size(self) -> int:
        return len(self.member_ids)


@dataclass(frozen=True)
class ThemeReport:
    """Themes (largest first), how many were asked for or chosen, and the silhouette."""

    themes: tuple[Theme, ...]
    k: int
    silhouette: float | None
    n_texts: int


def week_start(moment: datetime | date) -> date:
    """The Monday of the ISO week of ``moment``."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


class _Analyzer:
    """Callable tokenizer for TfidfVectorizer that remembers surface forms for display."""

    def __init__(self, stop: frozenset[str]) -> None:
        self.stop = stop
        self.surface: dict[str, Counter[str]] = {}

    def tokens(self, text: str) -> list[str]:
        out = []
        for original in _WORD.findall(text.lower().replace("’", "").replace("'", "")):
            word = _fold(original)
            if len(word) < 3 or word in self.stop or not _TOKEN.fullmatch(word):
                continue
            stem = _stem(word)
            if stem in self.stop:
                continue
            self.surface.setdefault(stem, Counter())[original] += 1
            out.append(stem)
        return out

    def __call__(self, text: str) -> list[str]:
        words = self.tokens(text)
        return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]

    def display(self, term: str) -> str:
        return " ".join(
            self.surface[w].most_common(1)[0][0] if w in self.surface else w for w in term.split()
        )


def find_themes(
    comments: Sequence[Comment],
    *,
    k: int | None = None,
    max_k: int = 8,
    seed: int = 0,
    top_n: int = 5,
    labels: Mapping[str, str] | None = None,
    extra_stop_words: Iterable[str] = (),
) -> ThemeReport:
    """Group ``comments`` into themes.

    Parameters
    ----------
    comments : the texts; ids must be unique.
    k : number of themes; ``None`` chooses 2..``max_k`` by the best cosine silhouette.
    seed : k-means seed; the same seed and data give the same themes.
    top_n : terms kept per theme (the highest TF-IDF weights of its centroid).
    labels : ``{theme key: label}`` written by people; other themes keep their default.
    extra_stop_words : words to ignore too (agents' names, the company's name).
    """
    ids = [c.id for c in comments]
    if len(set(ids)) != len(ids):
        raise ValueError("comment ids must be unique")
    if k is not None and k < 1:
        raise ValueError("the number of themes must be at least 1")
    stop = STOP_WORDS_ES | STOP_WORDS_EN | {_fold(w) for w in extra_stop_words}
    analyzer = _Analyzer(frozenset(stop))
    usable = [c for c in comments if analyzer.tokens(c.text)]
    if not usable:
        return ThemeReport((), 0, None, len(comments))
    vectorizer = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, norm="l2")
    matrix = vectorizer.fit_transform([c.text for c in usable])
    terms = np.array([analyzer.display(t) for t in vectorizer.get_feature_names_out()])
    distinct = int(np.unique(matrix.toarray(), axis=0).shape[0])
    silhouette: float | None = None
    if k is None:
        best: tuple[float, int] | None = None
        for candidate in range(2, min(max_k, distinct - 1) + 1):
            assignment = _kmeans(matrix, candidate, seed).labels_
            value = float(silhouette_score(matrix, assignment, metric="cosine"))
            if best is None or value > best[0] + 1e-9:
                best = (value, candidate)
        chosen = best[1] if best else 1
        silhouette = best[0] if best else None
    else:
        chosen = min(k, distinct)
    model = _kmeans(matrix, chosen, seed)
    themes = []
    for cluster in range(chosen):
        members = [c for c, lab in zip(usable, model.labels_, strict=True) if lab == cluster]
        if not members:
            continue
        centroid = np.asarray(model.cluster_centers_[cluster]).ravel()
        order = np.argsort(-centroid, kind="stable")
        top = tuple(str(terms[j]) for j in order[:top_n] if centroid[j] > 0)
        key = "-".join(t.replace(" ", "_") for t in top[:3]) or f"theme-{cluster}"
        weekly = Counter(week_start(c.at).isoformat() for c in members if c.at is not None)
        themes.append(
            Theme(
                key=key,
                label=", ".join(top[:3]),
                top_terms=top,
                member_ids=tuple(c.id for c in members),
                weekly=dict(sorted(weekly.items())),
            )
        )
    themes.sort(key=lambda t: (-t.size, t.key))
    report = ThemeReport(tuple(themes), chosen, silhouette, len(comments))
    return relabel(report, labels or {})


def _kmeans(matrix: object, k: int, seed: int) -> KMeans:
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit(matrix)


def relabel(report: ThemeReport, labels: Mapping[str, str]) -> ThemeReport:
    """Apply labels written by people (keyed by theme key); unknown keys are ignored."""
    return replace(
        report,
        themes=tuple(
            replace(t, label=labels[t.key]) if labels.get(t.key, "").strip() else t
            for t in report.themes
        ),
    )
