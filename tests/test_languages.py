"""The language catalog: one list of languages, with what each needs, used everywhere."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po

from escucha import languages
from escucha.i18n import catalog
from escucha.ivr import rules as ivr_rules
from escucha.notifications.messages import TEMPLATES_DIR, MessageKind
from escucha.routing.estimate import announce_bound
from escucha.telephony import rules as tel_rules
from escucha.web.i18n import CATALOGS

SRC = Path(languages.__file__).parent


@pytest.mark.parametrize("code", languages.CODES)
def test_every_language_has_what_a_customer_meets(code: str) -> None:
    """A language of the catalog has its locale, IVR words, call sentences, wait announcement,
    message templates and a screen catalog: nothing a customer meets falls back silently."""
    lang = languages.CATALOG[code]
    assert Locale.parse(lang.locale).language == code
    assert set(ivr_rules.PHRASES[code]) == set(ivr_rules.PHRASES["es"])
    assert set(ivr_rules.KEY_WORDS[code]) == set(ivr_rules.KEY_WORDS["es"])
    assert ivr_rules.DEFAULT_AGENT_KEYWORDS[code]
    assert ivr_rules.DEFAULT_REPEAT_KEYWORDS[code]
    assert set(tel_rules.PHRASES[code]) == set(tel_rules.PHRASES["es"])
    assert tel_rules.CALLBACK_WORDS[code]
    assert tel_rules.VOICEMAIL_WORDS[code]
    assert tel_rules.speech_language(code) == lang.speech_tag
    assert announce_bound(200.0, code, callers_ahead=2).lang == code
    for kind in MessageKind:
        assert (TEMPLATES_DIR / f"{kind.value}.{code}.txt").is_file(), (kind, code)
    assert (CATALOGS / code / "LC_MESSAGES" / "messages.po").is_file()
    assert languages.greeting(code, 9) != languages.greeting(code, 16)


def test_catalan_wait_announcement() -> None:
    said = announce_bound(200.0, "ca", callers_ahead=3).text
    assert said.startswith("Hi ha 3 persones davant seu. El temps d'espera estimat és de menys de")
    assert said.endswith("minuts.")


@pytest.mark.parametrize(
    ("code", "hour", "said"),
    [
        ("es", 8, "Buenos días"),
        ("es", 14, "Buenas tardes"),
        ("es", 13, "Buenos días"),
        ("es", 22, "Buenas noches"),
        ("es", 3, "Buenas noches"),
        ("en", 9, "Good morning"),
        ("en", 15, "Good afternoon"),
        ("en", 20, "Good evening"),
        ("ca", 9, "Bon dia"),
        ("ca", 16, "Bona tarda"),
        ("ca", 23, "Bona nit"),
        ("fr", 9, "Buenos días"),  # a language the catalog lacks: the default one
    ],
)
def test_greeting_by_the_hour(code: str, hour: int, said: str) -> None:
    assert languages.greeting(code, hour) == said


def test_greeting_refuses_a_bad_hour() -> None:
    with pytest.raises(ValueError, match="0-23"):
        languages.greeting("es", 24)


@pytest.mark.parametrize(
    ("hour", "minute", "said"),
    [
        (15, 15, "les tres i quart de la tarda"),
        (10, 30, "les deu i mitja del matí"),
        (9, 45, "les deu menys quart del matí"),
        (13, 0, "la una de la tarda"),
        (12, 0, "les dotze del migdia"),
        (8, 5, "les vuit i cinc del matí"),
        (8, 25, "les vuit i vint-i-cinc del matí"),
        (19, 40, "les vuit menys vint de la tarda"),
        (0, 45, "la una menys quart de la matinada"),
        (22, 0, "les deu de la nit"),
        (23, 50, "les dotze menys deu de la nit"),
    ],
)
def test_catalan_clock_said_aloud(hour: int, minute: int, said: str) -> None:
    assert languages.spoken_clock("ca", hour, minute) == said


def test_spanish_and_english_clocks_stay_in_figures() -> None:
    assert languages.spoken_clock("es", 15, 15) is None
    assert languages.spoken_clock("en", 15, 15) is None


@pytest.mark.parametrize(
    ("n", "said"), [(1, "un"), (21, "vint-i-un"), (32, "trenta-dos"), (50, "cinquanta")]
)
def test_catalan_numbers(n: int, said: str) -> None:
    assert languages.catalan_number(n) == said


def test_codes_with_a_region_resolve_to_the_catalog() -> None:
    assert languages.resolve("ca-ES") == "ca"
    assert languages.resolve("EN_gb") == "en"
    assert languages.resolve("fr") == languages.DEFAULT_LANGUAGE
    assert languages.resolve(None, "en") == "en"
    assert languages.resolve("fr", "de") == languages.DEFAULT_LANGUAGE
    assert not languages.known("fr")


#: Lists of language codes that are not the catalog, each with its reason: engines that analyse
#: text in the languages they were built for, and staff-facing texts and defaults.
OWN_LISTS = {
    "qa/transcripts.py": "QA detectors analyse Spanish and English transcripts",
    "qa/schemas.py": "QA detectors",
    "qa/api.py": "QA detectors",
    "analytics/schemas.py": "report wording for staff",
    "ivr/schemas.py": "the languages of an IVR that lists none",
    "tickets/profiles.py": "a regulatory profile's default languages",
}


def test_no_language_list_is_written_out_again() -> None:
    """The catalog is the one list: no other module spells the languages out."""
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        text = path.read_text(encoding="utf-8")
        if rel in OWN_LISTS:
            continue
        for spelled in ('("es", "en")', '["es", "en"]', 'Literal["es", "en"]', 'in ("es", "en")'):
            if spelled in text:
                offenders.append(f"{rel}: {spelled}")
    assert offenders == []


def test_catalan_catalog_has_every_customer_string_and_keeps_placeholders() -> None:
    with (CATALOGS / "ca" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        ca = {m.id: m.string for m in read_po(fh) if m.id}
    with (CATALOGS / "es" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        es = {m.id for m in read_po(fh) if m.id}
    assert len(ca) > 150
    for msgid, text in ca.items():
        assert text, msgid
        assert msgid in es, f"{msgid!r} is in Catalan but not in Spanish"
        for slot in ("{organisation}", "{agent}", "{address}", "{n}", "{s}", "{days}", "{date}"):
            assert (slot in msgid) == (slot in text), (msgid, text)


# --- one way to translate: the Babel catalogs -------------------------------------------------

#: Modules that keep texts keyed by language code, each with its reason. Anything else that
#: shows words translates them through the Babel catalogs (``escucha.i18n``).
OWN_WORDINGS = {
    "ivr/rules.py": "the IVR's own sentences and key names, said by a pure engine (ADR 29)",
    "telephony/rules.py": "the call's spoken sentences and IVR path words, in a pure module",
    "notifications/messages.py": "date patterns and words around dates beside the message "
    "templates of each language (ADR 29)",
    "speech/masking.py": "the token that stands for a masked number in a transcript",
}

_FIELD = re.compile(r"\{(\w*)[^{}]*\}")


def _is_text(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(
        node, ast.JoinedStr
    )


def _is_code(node: ast.AST) -> bool:
    """A language code written out: ``"es"`` or ``Lang.es``."""
    if isinstance(node, ast.Constant):
        return node.value in languages.CODES
    return isinstance(node, ast.Attribute) and node.attr in languages.CODES


def _codes(node: ast.AST) -> bool:
    """A tuple or list of two or more language codes: ``("es", "en")``."""
    return isinstance(node, ast.Tuple | ast.List) and sum(map(_is_code, node.elts)) >= 2


def inline_translations(source: str) -> list[str]:
    """Where ``source`` translates on its own instead of through the catalogs: a function
    taking a text per language (``def tr(es, en)``), texts keyed by language code
    (``{"es": "Hola", "en": "Hello"}``), a wording chosen by comparing with a language code
    (``"Hola" if lang == "es" else "Hello"``), or texts paired with language codes
    (``dict(zip(("es", "en"), ("Hola", "Hello")))``, the codes named or written out)."""
    found = []
    tree = ast.parse(source)
    code_lists = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value and _codes(node.value)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == "zip"
            and any(
                _codes(a) or (isinstance(a, ast.Name) and a.id in code_lists) for a in node.args
            )
        ):
            found.append(f"{node.lineno}: texts paired with language codes")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            a = node.args
            names = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
            if len(names & set(languages.CODES)) >= 2:
                found.append(f"{node.lineno}: a text per language as parameters")
        elif isinstance(node, ast.Dict):
            codes = [k for k in node.keys if k is not None and _is_code(k)]
            texts = [
                v
                for v in node.values
                if _is_text(v) or (isinstance(v, ast.Dict) and any(map(_is_text, v.values)))
            ]
            if len(codes) >= 2 and texts:
                found.append(f"{node.lineno}: texts keyed by language")
        elif isinstance(node, ast.IfExp):
            test = node.test
            compared = isinstance(test, ast.Compare) and any(
                map(_is_code, (test.left, *test.comparators))
            )
            chosen = [b for b in (node.body, node.orelse) if _is_text(b) and not _is_code(b)]
            if compared and len(chosen) == 2:
                found.append(f"{node.lineno}: a wording chosen by language")
    return sorted(found, key=lambda where: int(where.split(":")[0]))


def test_the_inline_translation_check_finds_each_kind() -> None:
    sample = """
def tr(self, es: str, en: str) -> str:
    return es if self.lang == "es" else en
GREETING = {"es": "Hola", "en": "Hello"}
WORDS = {"es": {"yes": "sí"}, "en": {"yes": "yes"}}
title = "Resumen" if lang is Lang.es else "Summary"
note = f"{n} filas" if lang == "es" else f"{n} rows"
narrowed = "en" if lang == "en" else "es"
voices = {"es": ("es", 50), "en": ("en-gb", 50)}
LANGS = ("es", "en")
title = dict(zip(LANGS, ("Idioma desconocido", "Unknown language"), strict=True))
fix = dict(zip(["es", "en"], fix_texts))
spoken = dict(zip(("es", "fr"), texts))
"""
    assert inline_translations(sample) == [
        "2: a text per language as parameters",
        "4: texts keyed by language",
        "5: texts keyed by language",
        "6: a wording chosen by language",
        "7: a wording chosen by language",
        "11: texts paired with language codes",
        "12: texts paired with language codes",
    ]


def test_words_are_translated_through_the_catalogs_only() -> None:
    """One mechanism: no module but those of :data:`OWN_WORDINGS` keeps its own translations."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel not in OWN_WORDINGS:
            offenders += [f"{rel}:{o}" for o in inline_translations(path.read_text("utf-8"))]
    assert offenders == []
    for rel in OWN_WORDINGS:  # a reason that no longer holds is taken off
        assert inline_translations((SRC / rel).read_text("utf-8")), rel


def test_every_message_written_in_python_has_its_spanish_text() -> None:
    """Message ids passed to ``_``, ``tr`` or an import's ``ctx.text`` in Python code are in the
    Spanish catalog, with the same ``{fields}``."""
    es = catalog("es")
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.Call) and node.args and _is_text(node.args[0])):
                continue
            if ast.unparse(node.func) not in ("_", "tr", "ctx.text"):
                continue
            if not isinstance(node.args[0], ast.Constant):
                continue
            message = node.args[0].value
            where = f"{path.relative_to(SRC)}:{node.lineno}"
            if message not in es:
                missing.append(f"{where}: {message!r}")
            elif set(_FIELD.findall(message)) != set(_FIELD.findall(es[message])):
                missing.append(f"{where}: {message!r} has other fields in Spanish")
    assert missing == []
