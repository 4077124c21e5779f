"""Quality assurance rules (C4, C5), under one name. Pure: standard library only.

Each job lives in a module of its own:

* :mod:`escucha.qa.transcripts`: transcript import from three formats (:func:`parse_transcript`):
  JSON, plain ``AGENTE:/CLIENTE:`` or ``AGENT:/CUSTOMER:`` text, and WebVTT; the text helpers.
* :mod:`escucha.qa.detectors`: detectors (:func:`analyse`) that check a transcript against the
  scorecard's criteria, in Spanish and English, each returning ``met`` (``True``/``False``/
  ``None`` for "does not apply") and the indexes of the turns that are its evidence.
* :mod:`escucha.qa.scoring`: the score formula of a review (:func:`score_review`).
* :mod:`escucha.qa.sampling`: strategies that choose which contacts a supervisor reviews
  (:func:`sample`).
"""

from __future__ import annotations

from escucha.qa.detectors import (
    DETECTORS,
    PATTERNS,
    Analysis,
    DetectorMetrics,
    Finding,
    TalkStats,
    Thresholds,
    analyse,
    detect_concrete_time,
    detect_early_empathy,
    detect_greeting,
    detect_holds_announced,
    detect_no_over_explaining,
    detect_no_repeat_request,
    detect_not_rushed,
    detect_questions_before_solution,
    detect_recap,
    detector_metrics,
    talk_stats,
)
from escucha.qa.sampling import (
    STRATEGIES,
    Candidate,
    RandomAdapter,
    RandomSource,
    Strategy,
    normalised_survey_score,
    sample,
)
from escucha.qa.scoring import (
    NA,
    CriterionScore,
    CriterionSpec,
    Critical,
    ReviewScore,
    SectionScore,
    criterion_score,
    score_review,
)
from escucha.qa.transcripts import (
    FORMATS,
    LANGS,
    STOP_WORDS,
    Format,
    Lang,
    Speaker,
    Transcript,
    TranscriptError,
    Turn,
    detect_format,
    detect_language,
    is_question,
    normalise,
    parse_clock,
    parse_json,
    parse_text,
    parse_transcript,
    parse_vtt,
    sentences,
    speaker_of,
    word_count,
)

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

__all__ = [
    "DETECTORS",
    "FORMATS",
    "LANGS",
    "NA",
    "PATTERNS",
    "STOP_WORDS",
    "STRATEGIES",
    "Analysis",
    "Candidate",
    "CriterionScore",
    "CriterionSpec",
    "Critical",
    "DetectorMetrics",
    "Finding",
    "Format",
    "Lang",
    "RandomAdapter",
    "RandomSource",
    "ReviewScore",
    "SectionScore",
    "Speaker",
    "Strategy",
    "TalkStats",
    "Thresholds",
    "Transcript",
    "TranscriptError",
    "Turn",
    "analyse",
    "criterion_score",
    "detect_concrete_time",
    "detect_early_empathy",
    "detect_format",
    "detect_greeting",
    "detect_holds_announced",
    "detect_language",
    "detect_no_over_explaining",
    "detect_no_repeat_request",
    "detect_not_rushed",
    "detect_questions_before_solution",
    "detect_recap",
    "detector_metrics",
    "is_question",
    "normalise",
    "normalised_survey_score",
    "parse_clock",
    "parse_json",
    "parse_text",
    "parse_transcript",
    "parse_vtt",
    "sample",
    "score_review",
    "sentences",
    "speaker_of",
    "talk_stats",
    "word_count",
]
