"""Speech accuracy on recorded calls: word error rate, QA agreement and the audio detectors.

The labelled conversations of ``tests/qa/data`` are spoken by espeak-ng (agent and customer
with different voices, the agent on channel 0), holds become silence (at most 12 s), a
customer cut off mid-sentence is talked over by the agent, and the whole call goes through
8 kHz G.711 mu-law with sox. Each recording is transcribed and scored like a real one.

Synthetic speech is far easier than real callers (one clean voice per side, no noise or
accents): these figures are an upper bound, not what real calls will give.

Figures, by engine and language:

* WER: word error rate of the recognised words against the written turns (jiwer, lower case,
  punctuation removed; digits in the text are read out as words by espeak-ng and count as
  errors when the engine writes words, so WER is slightly pessimistic there);
* QA agreement: share of (call, criterion) verdicts of automatic QA on the recording equal to
  automatic QA on the written text, and agreement of each with the reviewers' labels;
* audio detectors: precision and recall of "not met" against what the recording holds
  (unannounced hold: the reviewers' ``holds_announced = 0``; customer asked to repeat:
  ``no_repeat_request = 0``; talking over: a cut-off customer talked over; monologue: an
  agent turn of ``--monologue-s`` seconds or more).

Usage::

    python benchmarks/speech.py [--lang en] [--limit 10] [--split heldout]
        [--lm contact_centre|general] [--engine-es vosk --url-es ws://...]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import jiwer

from escucha.config import Settings
from escucha.errors import ConfigurationError
from escucha.qa import rules, service
from escucha.speech import audio as A
from escucha.speech import engines, synth
from escucha.speech import transcribe as T

DATA = Path(__file__).parents[1] / "tests" / "qa" / "data"
AUDIO_TRUTH = {
    "silence": "holds_announced",
    "repeat": "no_repeat_request",
    "overlap": None,
    "monologue": None,
}


def _clean(text: str) -> str:
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower().replace("’", "'")).split())


def _pr(pairs: list[tuple[bool, bool]]) -> tuple[float | None, float | None, int]:
    tp = sum(1 for p, g in pairs if p and g)
    predicted = sum(1 for p, _ in pairs if p)
    actual = sum(1 for _, g in pairs if g)
    return (tp / predicted if predicted else None, tp / actual if actual else None, actual)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=["en", "es", "both"], default="en")
    parser.add_argument("--limit", type=int, default=0, help="calls per language (0: all)")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "escucha-speech"
    )
    parser.add_argument("--engine-es", default="")
    parser.add_argument("--url-es", default="")
    parser.add_argument("--engine-en", default="")
    parser.add_argument("--url-en", default="")
    parser.add_argument("--monologue-s", type=float, default=30.0)
    parser.add_argument("--split", choices=["all", "dev", "heldout"], default="all")
    parser.add_argument(
        "--lm",
        choices=["contact_centre", "general"],
        default="contact_centre",
        help="language model of the offline English engine",
    )
    parser.add_argument("--lm-weight", type=float, default=0.5)
    args = parser.parse_args()
    settings = Settings(
        environment="test",
        speech_engine_es=args.engine_es,
        speech_url_es=args.url_es,
        speech_engine_en=args.engine_en,
        speech_url_en=args.url_en,
        speech_pocketsphinx_lm=args.lm,
        speech_pocketsphinx_lm_weight=args.lm_weight,
    )
    options = T.Options(monologue_s=args.monologue_s)
    langs = ["en", "es"] if args.lang == "both" else [args.lang]
    items = service.load_labelled_set(DATA / "labels.csv")
    print(f"load average before: {open('/proc/loadavg').read().split()[:3]}")  # noqa: SIM115
    for lang in langs:
        try:
            engine = engines.engine_for(settings, lang)
        except ConfigurationError as exc:
            print(f"{lang}: not measured: {exc}")
            continue
        chosen = [i for i in items if i.lang == lang and args.split in ("all", i.split)]
        if args.limit:
            step = max(1, len(chosen) // args.limit)
            chosen = chosen[::step][: args.limit]
        refs: list[str] = []
        hyps: list[str] = []
        same = total = text_ok = audio_ok = labelled = 0
        detector_pairs: dict[str, list[tuple[bool, bool]]] = {k: [] for k in AUDIO_TRUTH}
        audio_s = cpu_s = 0.0
        for item in chosen:
            written = service.read_transcript(item.file)
            path, truth = synth.render_cached(written, lang, args.cache)
            decoded = A.read_audio(path.read_bytes(), name=str(path))
            start = time.process_time()
            recording = T.transcribe_audio(decoded, engine, lang, options)
            cpu_s += time.process_time() - start
            audio_s += decoded.duration_s
            findings, _ = T.audio_findings(recording, options)
            refs.append(_clean(" ".join(t.text for t in written.turns if t.speaker != "hold")))
            hyps.append(_clean(" ".join(t.text for t in recording.turns)) or "-")
            on_text = service.score_transcript(written, lang=lang)
            on_audio = service.score_transcript(
                T.qa_transcript(recording), lang=lang, extra_findings=findings
            )
            for name in rules.DETECTORS:
                a, b = on_text.criteria[name].met, on_audio.criteria[name].met
                total += 1
                same += a is b
                if name in item.labels:
                    labelled += 1
                    text_ok += a is item.labels[name]
                    audio_ok += b is item.labels[name]
            for detector, criterion in AUDIO_TRUTH.items():
                answer = findings[T.AUDIO_DETECTORS[detector]].met is False
                if criterion is not None:
                    gold = item.labels.get(criterion) is False
                elif detector == "overlap":
                    gold = bool(truth.overlaps)
                else:
                    gold = truth.longest_agent_s >= args.monologue_s
                detector_pairs[detector].append((answer, gold))
            print(
                f"  {item.file.name}: {decoded.duration_s:.0f} s, "
                f"WER {jiwer.wer(refs[-1], hyps[-1]):.2f}",
                flush=True,
            )
        wer = jiwer.wer(refs, hyps)
        per_call = [jiwer.wer(r, h) for r, h in zip(refs, hyps, strict=True)]
        model = f" ({args.lm} language model)" if engine.name == "pocketsphinx" else ""
        print(
            f"\n{lang} · engine {engine.name}{model} · {len(chosen)} calls, "
            f"{audio_s / 60:.1f} min of audio"
        )
        print(
            f"  WER {wer:.2f} ({min(per_call):.2f}-{max(per_call):.2f} per call)   "
            f"CPU {cpu_s / audio_s:.2f} s per audio second"
        )
        print(
            f"  QA agreement with QA on the text: {same / total:.2f} ({same}/{total} verdicts)\n"
            f"  agreement with reviewers: text {text_ok / labelled:.2f}, "
            f"recording {audio_ok / labelled:.2f}"
        )
        print("  audio detector        precision recall  support")
        for detector, pairs in detector_pairs.items():
            p, r, n = _pr(pairs)
            print(f"  {detector:<20}  {_f(p):>9} {_f(r):>6}  {n:>7}")
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}  cpus {os.cpu_count()}")  # noqa: SIM115
    return 0


if __name__ == "__main__":
    sys.exit(main())
