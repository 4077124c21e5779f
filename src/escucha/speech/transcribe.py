"""A recording becomes turns: who spoke (by channel, or by voice on a mono file), when, and
what they said, with long numbers masked; and the detectors that need the audio.

Two-channel recordings keep the agent on one channel and the customer on the other (channel 0
the agent unless told otherwise: Twilio's dual recordings put the caller first). A mono file
is split by voice activity; two voices are told apart by pitch when they differ clearly,
else the speaker is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from escucha.qa import rules
from escucha.speech import audio as A
from escucha.speech.engines import Engine
from escucha.speech.masking import mask_numbers

SpeechSpeaker = Literal["agent", "customer", "unknown"]

#: Audio detectors and the scorecard criterion (text detector id) each one answers.
AUDIO_DETECTORS: dict[str, str] = {
    "silence": "holds_announced",
    "overlap": "not_rushed",
    "repeat": "no_repeat_request",
    "monologue": "no_over_explaining",
}


@dataclass(frozen=True)
class SpeechTurn:
    speaker: SpeechSpeaker
    start_s: float
    end_s: float
    text: str

    def as_json(self) -> dict[str, object]:
        return {
            "speaker": self.speaker,
            "start_s": round(self.start_s, 2),
            "end_s": round(self.end_s, 2),
            "text": self.text,
        }


@dataclass(frozen=True)
class Options:
    """How a recording is cut into turns and checked."""

    agent_channel: int = 0
    mask_numbers: bool = True
    turn_gap_s: float = 0.8
    silence_s: float = 8.0
    monologue_s: float = 30.0
    overlap_s: float = 1.0
    vad: A.VadSettings = field(default_factory=A.VadSettings)


@dataclass(frozen=True)
class AudioEvent:
    """Something a detector found in the audio, with the turn it belongs to (QA numbering)."""

    detector: str
    start_s: float
    end_s: float
    turn: int | None = None
    announced: bool | None = None


@dataclass(frozen=True)
class Recording:
    """Everything transcription learned about one recording."""

    lang: rules.Lang
    engine: str
    channels: int
    rate: int
    subtype: str
    duration_s: float
    clipped_share: float
    level_dbfs: float
    turns: tuple[SpeechTurn, ...]
    silences: tuple[A.Segment, ...]
    overlaps: tuple[A.Segment, ...]
    masked: int
    speakers_guessed: bool
    warnings: tuple[str, ...] = ()

    def transcript_json(self) -> list[dict[str, object]]:
        return [t.as_json() for t in self.turns]


def _utterances(samples: A.Samples, options: Options, *, join: bool = True) -> list[A.Segment]:
    segments = A.speech_segments(samples, A.ENGINE_RATE, options.vad)
    return A.join_segments(segments, options.turn_gap_s) if join else segments


def _mono_speakers(samples: A.Samples, utterances: list[A.Segment]) -> list[SpeechSpeaker]:
    """Tell two voices apart by median pitch: two clusters at least 15 % apart, the first
    voice heard being the agent (who answers). Otherwise every turn is ``unknown``."""
    pitches = [A.pitch_hz(A.cut(samples, A.ENGINE_RATE, u, 0.0), A.ENGINE_RATE) for u in utterances]
    known = [p for p in pitches if p is not None]
    if len(known) < 2:
        return ["unknown"] * len(utterances)
    logs = np.log(np.array(known))
    low, high = float(logs.min()), float(logs.max())
    for _ in range(20):  # 2-means on log pitch
        split = (low + high) / 2
        a, b = logs[logs <= split], logs[logs > split]
        if a.size == 0 or b.size == 0:
            return ["unknown"] * len(utterances)
        low, high = float(a.mean()), float(b.mean())
    if high - low < np.log(1.15):
        return ["unknown"] * len(utterances)
    split = (low + high) / 2
    first = next(p for p in pitches if p is not None)
    agent_high = np.log(first) > split
    out: list[SpeechSpeaker] = []
    for p in pitches:
        if p is None:
            out.append("unknown")
        else:
            out.append("agent" if (np.log(p) > split) == agent_high else "customer")
    return out


def _silences(active: list[A.Segment], duration_s: float, min_s: float) -> list[A.Segment]:
    """Stretches with nobody speaking on any channel, at least ``min_s`` long (the end of
    the recording excluded: hanging up is not dead air)."""
    spans = sorted(active, key=lambda s: s.start_s)
    out: list[A.Segment] = []
    heard_until = 0.0
    started = False
    for seg in spans:
        if started and seg.start_s - heard_until >= min_s:
            out.append(A.Segment(round(heard_until, 2), round(seg.start_s, 2)))
        heard_until = max(heard_until, seg.end_s)
        started = True
    return out


def _overlaps(agent: list[A.Segment], customer: list[A.Segment], min_s: float) -> list[A.Segment]:
    """The agent starting to speak while the customer is speaking, for ``min_s`` or more."""
    out: list[A.Segment] = []
    for a in agent:
        for c in customer:
            if c.start_s < a.start_s < c.end_s:
                end = min(a.end_s, c.end_s)
                if end - a.start_s >= min_s:
                    out.append(A.Segment(round(a.start_s, 2), round(end, 2)))
    return out


def transcribe_audio(
    recording: A.Audio,
    engine: Engine,
    lang: rules.Lang,
    options: Options | None = None,
    *,
    progress: Callable[[], None] | None = None,
) -> Recording:
    """Transcribe ``recording`` with ``engine`` in ``lang``."""
    options = options or Options()
    engine = engine.for_recording()
    chans = [A.resample(c, recording.rate) for c in recording.channels]
    warnings: list[str] = []
    clipped = max(A.clipped_share(c) for c in recording.channels)
    if clipped > 0.001:
        warnings.append(f"clipping: {clipped:.2%} of samples at full scale")
    level = max(A.level_dbfs(c) for c in recording.channels)
    raw: list[tuple[SpeechSpeaker, A.Segment, int]] = []
    guessed = False
    by_channel: list[list[A.Segment]] = []
    if len(chans) == 2:
        for k, samples in enumerate(chans):
            speaker: SpeechSpeaker = "agent" if k == options.agent_channel else "customer"
            utterances = _utterances(samples, options)
            by_channel.append(utterances)
            raw.extend((speaker, u, k) for u in utterances)
    else:
        # one voice may follow another without a pause: keep each stretch of speech apart,
        # tell the voices apart, and let qa_turns join a speaker's consecutive stretches
        utterances = _utterances(chans[0], options, join=False)
        by_channel.append(utterances)
        speakers = _mono_speakers(chans[0], utterances)
        guessed = True
        raw.extend((s, u, 0) for s, u in zip(speakers, utterances, strict=True))
    raw.sort(key=lambda r: (r[1].start_s, r[2]))
    turns: list[SpeechTurn] = []
    masked = 0
    for speaker, seg, k in raw:
        text = engine.transcribe(A.to_pcm16(A.cut(chans[k], A.ENGINE_RATE, seg)), lang)
        if progress is not None:
            progress()
        if not text:
            continue
        if options.mask_numbers:
            text, n = mask_numbers(text, lang)
            masked += n
        turns.append(SpeechTurn(speaker, seg.start_s, seg.end_s, text))
    active = [seg for _, seg, _ in raw]
    silences = _silences(active, recording.duration_s, options.silence_s)
    overlaps: list[A.Segment] = []
    if len(chans) == 2:
        agent_k = options.agent_channel
        overlaps = _overlaps(by_channel[agent_k], by_channel[1 - agent_k], options.overlap_s)
    return Recording(
        lang=lang,
        engine=engine.name,
        channels=len(chans),
        rate=recording.rate,
        subtype=recording.subtype,
        duration_s=round(recording.duration_s, 2),
        clipped_share=clipped,
        level_dbfs=level,
        turns=tuple(turns),
        silences=tuple(silences),
        overlaps=tuple(overlaps),
        masked=masked,
        speakers_guessed=guessed,
        warnings=tuple(warnings),
    )


# --- The legs of one call -------------------------------------------------------------------


def stored(
    lang: rules.Lang,
    *,
    engine: str,
    channels: int,
    duration_s: float,
    turns: Sequence[dict[str, Any]],
    events: Sequence[dict[str, Any]],
    masked: int,
) -> Recording:
    """A recording as its transcript keeps it (turns, and the silences and overlaps the
    detectors heard), to be joined with the other legs of its call."""

    def segments(detector: str) -> tuple[A.Segment, ...]:
        return tuple(
            A.Segment(float(e["start_s"]), float(e["end_s"]))
            for e in events
            if e.get("detector") == detector
        )

    return Recording(
        lang=lang,
        engine=engine,
        channels=channels,
        rate=A.ENGINE_RATE,
        subtype="",
        duration_s=duration_s,
        clipped_share=0.0,
        level_dbfs=float("-inf"),
        turns=tuple(
            SpeechTurn(t["speaker"], float(t["start_s"]), float(t["end_s"]), str(t["text"]))
            for t in turns
        ),
        silences=segments("silence"),
        overlaps=segments("overlap"),
        masked=masked,
        speakers_guessed=False,
    )


def joined(legs: Sequence[Recording]) -> Recording:
    """The legs of one call (a recording per agent it reached), one after the other: each
    leg's times move on by the lengths of the legs before it."""
    if len(legs) == 1:
        return legs[0]
    turns: list[SpeechTurn] = []
    silences: list[A.Segment] = []
    overlaps: list[A.Segment] = []
    at = 0.0
    for leg in legs:
        turns += [SpeechTurn(t.speaker, t.start_s + at, t.end_s + at, t.text) for t in leg.turns]
        silences += [A.Segment(x.start_s + at, x.end_s + at) for x in leg.silences]
        overlaps += [A.Segment(x.start_s + at, x.end_s + at) for x in leg.overlaps]
        at += leg.duration_s
    first = legs[0]
    return Recording(
        lang=first.lang,
        engine=first.engine,
        channels=max(leg.channels for leg in legs),
        rate=first.rate,
        subtype=first.subtype,
        duration_s=round(at, 2),
        clipped_share=max(leg.clipped_share for leg in legs),
        level_dbfs=max(leg.level_dbfs for leg in legs),
        turns=tuple(turns),
        silences=tuple(silences),
        overlaps=tuple(overlaps),
        masked=sum(leg.masked for leg in legs),
        speakers_guessed=any(leg.speakers_guessed for leg in legs),
        warnings=tuple(w for leg in legs for w in leg.warnings),
    )


# --- For automatic QA -----------------------------------------------------------------------


def qa_turns(recording: Recording) -> list[rules.Turn]:
    """The transcript automatic QA reads: consecutive turns of one speaker joined, a hold
    turn for each long silence, and ``unknown`` speakers taken in turns (agent first)."""
    items: list[tuple[float, rules.Turn]] = []
    previous: rules.Speaker = "customer"
    for t in recording.turns:
        if t.speaker == "unknown":
            speaker: rules.Speaker = "agent" if previous == "customer" else "customer"
        else:
            speaker = t.speaker
        previous = speaker
        items.append((t.start_s, rules.Turn(speaker, t.text, t.start_s, t.end_s)))
    for s in recording.silences:
        items.append((s.start_s + 1e-6, rules.Turn("hold", "", s.start_s, s.end_s)))
    items.sort(key=lambda x: x[0])
    out: list[rules.Turn] = []
    for _, turn in items:
        last = out[-1] if out else None
        if last is not None and turn.speaker != "hold" and last.speaker == turn.speaker:
            out[-1] = rules.Turn(
                last.speaker, f"{last.text} {turn.text}".strip(), last.start_s, turn.end_s
            )
        else:
            out.append(turn)
    return out


def qa_transcript(recording: Recording) -> rules.Transcript:
    return rules.Transcript(tuple(qa_turns(recording)), recording.lang)


def _index_at(turns: list[rules.Turn], at_s: float, speaker: str | None = None) -> int | None:
    best: int | None = None
    for i, t in enumerate(turns):
        if speaker is not None and t.speaker != speaker:
            continue
        if t.start_s is not None and t.start_s <= at_s + 1e-6:
            best = i
    return best


def _words(text: str) -> set[str]:
    stop = rules.STOP_WORDS.get("en", frozenset()) | rules.STOP_WORDS.get("es", frozenset())
    return {w for w in rules.normalise(text).split() if len(w) > 2 and w not in stop}


def audio_findings(
    recording: Recording, options: Options | None = None
) -> tuple[dict[str, rules.Finding], list[AudioEvent]]:
    """The audio detectors, keyed by the scorecard criterion (text detector id) they answer.

    * ``silence``: nobody speaks for ``silence_s`` or more and the agent's last turn before
      it does not announce a hold -> "announces holds" not met.
    * ``overlap``: the agent starts speaking while the customer is still speaking and both
      go on for ``overlap_s`` or more -> "not rushed" not met.
    * ``repeat``: the agent asks the customer to repeat (the text detector on the words
      heard), or the customer says again what they just said after a short agent turn ->
      "never asks the customer to repeat" not met.
    * ``monologue``: an agent turn lasting ``monologue_s`` or more -> "no over-explaining"
      not met.
    """
    options = options or Options()
    turns = qa_turns(recording)
    lang = recording.lang
    events: list[AudioEvent] = []
    findings: dict[str, rules.Finding] = {}
    # silence
    holds = [i for i, t in enumerate(turns) if t.speaker == "hold"]
    bad: list[int] = []
    for h in holds:
        before = next((j for j in range(h - 1, -1, -1) if turns[j].speaker != "customer"), None)
        announced = (
            before is not None
            and turns[before].speaker == "agent"
            and rules.PATTERNS[lang]["hold_announce"].search(rules.normalise(turns[before].text))
            is not None
        )
        t = turns[h]
        events.append(AudioEvent("silence", t.start_s or 0.0, t.end_s or 0.0, h, announced))
        if not announced:
            bad.append(h)
    findings["holds_announced"] = (
        rules.Finding(None) if not holds else rules.Finding(not bad, tuple(bad or holds))
    )
    # overlap
    hits: list[int] = []
    for o in recording.overlaps:
        i = _index_at(turns, o.start_s, "agent")
        events.append(AudioEvent("overlap", o.start_s, o.end_s, i))
        if i is not None:
            hits.append(i)
    findings["not_rushed"] = rules.Finding(not recording.overlaps, tuple(sorted(set(hits))))
    # repeat
    repeats: list[int] = []
    for i, t in enumerate(turns):
        if t.speaker == "agent" and any(
            rules.PATTERNS[lang]["repeat"].search(rules.normalise(s))
            for s in rules.sentences(t.text)
        ):
            repeats.append(i)
        if (
            t.speaker == "customer"
            and i >= 2
            and turns[i - 1].speaker == "agent"
            and rules.word_count(turns[i - 1].text) <= 6
            and turns[i - 2].speaker == "customer"
        ):
            a, b = _words(turns[i - 2].text), _words(t.text)
            if len(a) >= 3 and len(b) >= 3 and len(a & b) / len(a | b) >= 0.5:
                repeats.append(i - 1)
    for i in sorted(set(repeats)):
        events.append(AudioEvent("repeat", turns[i].start_s or 0.0, turns[i].end_s or 0.0, i))
    findings["no_repeat_request"] = rules.Finding(not repeats, tuple(sorted(set(repeats))))
    # monologue
    long_turns = [
        i
        for i, t in enumerate(turns)
        if t.speaker == "agent"
        and t.start_s is not None
        and t.end_s is not None
        and t.end_s - t.start_s >= options.monologue_s
    ]
    for i in long_turns:
        events.append(AudioEvent("monologue", turns[i].start_s or 0.0, turns[i].end_s or 0.0, i))
    findings["no_over_explaining"] = rules.Finding(not long_turns, tuple(long_turns))
    return findings, events
