"""The call script, pure: what a caller hears and what the line does next (W1, W2, W6).

A :class:`Turn` is a short, provider-neutral list of actions (:class:`Say`, :class:`Gather`,
:class:`Poll`, :class:`Connect`, :class:`Transfer`, :class:`Record`, :class:`Hangup`). The
Twilio adapter renders it as TwiML; the browser phone renders it as a page. Both drive the same
service (``escucha.telephony.calls``), which decides the turn; this module only holds the
vocabulary, the sentences in Spanish and English, and small decisions that need no database.

Standard library only, plus the pure IVR runtime; it never reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from escucha import languages
from escucha.ivr.rules import IvrModel, Node, Utterance, phrase_in, pick, spoken_key, words

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

#: Seconds between two wait announcements (position and estimate) unless a queue says otherwise.
ANNOUNCE_EVERY_S = 30.0
#: Seconds of silence in each pass of the wait loop; a freed agent connects within about this.
POLL_S = 2.0
#: A line that escucha wakes through the provider's API (Twilio with REST credentials) is woken
#: only within ``WAKE_WITHIN_S`` of the offer, and until ``WOKEN_GRACE_S`` after it only the
#: woken fetch connects; a plain pass of the wait loop is told to wait two more seconds. After
#: that any pass connects. So a redirect can never cut a call that is already being put
#: through, and a lost redirect costs at most the grace.
WAKE_WITHIN_S = 8.0
WOKEN_GRACE_S = 10.0
#: The key that turns a waiting call into a callback that keeps the caller's place (W2).
CALLBACK_KEY = "1"
#: When the queue is closed: the key for a callback at a stated time, and for a message (W6).
CLOSED_CALLBACK_KEY = "1"
CLOSED_VOICEMAIL_KEY = "2"
#: Longest voicemail recorded, in seconds.
RECORD_MAX_S = 120
#: Final call statuses (Twilio's names; the browser phone uses the same words).
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
UNANSWERED_STATUSES = frozenset({"busy", "failed", "no-answer", "canceled"})

#: BCP 47 tags for speech recognition and text to speech, per IVR language.
SPEECH_LANGUAGES: Mapping[str, str] = {
    code: lang.speech_tag for code, lang in languages.CATALOG.items()
}

Phase = Literal[
    "ivr",  # in a menu, waiting for keys or words
    "closed",  # the queue is closed: callback at a stated time or a message
    "voicemail",  # recording a message
    "queue",  # waiting in line
    "offered",  # an agent has been chosen; the line connects
    "connected",
    "on_hold",
    "callback",  # the caller took a callback and hangs up
    "ended",
]

# --------------------------------------------------------------------------------------------
# The actions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """Words spoken to the caller (text to speech) in ``language``."""

    text: str
    language: str


@dataclass(frozen=True)
class Gather:
    """Say ``prompts`` while listening for keys (and words when ``speech``).

    ``kind`` tells where the answer goes: ``"menu"`` (an IVR menu or the closed-queue
    choice, answered by ``caller_input``) or ``"wait"`` (the wait loop: the callback key). A
    wait gather ends with ``pause_s`` of silence, then the line comes back (:class:`Poll`).
    ``quiet_s`` is how long until the next announcement is due: a line that escucha wakes
    when an agent is chosen (Twilio with REST credentials) stays silent that long instead.
    """

    kind: Literal["menu", "wait"]
    prompts: tuple[Say, ...]
    language: str
    timeout_s: float = 5.0
    speech: bool = False
    hints: tuple[str, ...] = ()
    #: The recording notice: no key within ``timeout_s`` (after the prompts) accepts it.
    notice: bool = False
    pause_s: float = 0.0
    quiet_s: float = 0.0


@dataclass(frozen=True)
class Poll:
    """Come back to the wait loop (Twilio: ``<Redirect>``; the browser polls)."""


@dataclass(frozen=True)
class Connect:
    """Put the caller through to the agent (Twilio: ``<Dial><Client>agent-{id}``)."""

    agent_id: int


@dataclass(frozen=True)
class Transfer:
    """Transfer the call to an outside number (E.164)."""

    number: str


@dataclass(frozen=True)
class Record:
    """Record a message of at most ``max_s`` seconds."""

    max_s: int = RECORD_MAX_S


@dataclass(frozen=True)
class Hangup:
    """End the call."""


Action = Say | Gather | Poll | Connect | Transfer | Record | Hangup


@dataclass(frozen=True)
class Turn:
    """What the line does now for one call.

    ``seq`` is the number the next caller input must carry, so a retried webhook (the same
    input sent twice) is recognised and changes nothing twice.
    """

    call: str
    contact_id: int
    phase: Phase
    language: str
    actions: tuple[Action, ...] = ()
    seq: int = 1
    agent_id: int | None = None

    def texts(self) -> list[Say]:
        """Everything said in this turn, in order (inside gathers too)."""
        out: list[Say] = []
        for action in self.actions:
            if isinstance(action, Say):
                out.append(action)
            elif isinstance(action, Gather):
                out.extend(action.prompts)
        return out

    @property
    def listening(self) -> bool:
        """Whether the line waits for keys or words from the caller."""
        return any(isinstance(a, Gather) for a in self.actions)


# --------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------

PHRASES: Mapping[str, Mapping[str, str]] = {
    "es": {
        "connect": "Le pasamos con una persona.",
        "callback_offer": "Si prefiere que le llamemos sin perder su turno, pulse {key}.",
        "callback_taken": "Le llamaremos {when}. Gracias por llamar.",
        "hold": "Le atendemos enseguida; por favor, no cuelgue.",
        "no_number": "No vemos su número de teléfono, así que no podemos llamarle.",
        "closed": "En este momento no podemos atenderle.",
        "closed_reason": "Hoy estamos cerrados por {reason}.",
        "opens": "Volvemos a atender {when}.",
        "closed_callback": "Para que le llamemos {when}, pulse {key}.",
        "closed_voicemail": "Para dejar un mensaje, pulse {key}.",
        "voicemail": "Deje su mensaje después de la señal y pulse almohadilla al terminar.",
        "voicemail_saved": "Hemos recibido su mensaje. Gracias por llamar.",
        "calling_you": "Le llamamos de {org}, como nos pidió. Le pasamos con una persona.",
        "no_queue": "No podemos atenderle por teléfono ahora mismo. Gracias por llamar.",
        "goodbye": "Gracias por llamar.",
        "transfer": "Le pasamos con el {number}.",
        "not_recorded": "De acuerdo: esta llamada no se grabará.",
    },
    "en": {
        "connect": "Putting you through to a person.",
        "callback_offer": (
            "If you would rather we call you back without losing your place, press {key}."
        ),
        "callback_taken": "We will call you back {when}. Thank you for calling.",
        "hold": "We will be right with you; please hold.",
        "no_number": "We cannot see your phone number, so we cannot call you back.",
        "closed": "We cannot take your call right now.",
        "closed_reason": "We are closed today for {reason}.",
        "opens": "We are open again {when}.",
        "closed_callback": "For a call back {when}, press {key}.",
        "closed_voicemail": "To leave a message, press {key}.",
        "voicemail": "Please leave your message after the tone and press hash when you finish.",
        "voicemail_saved": "We have your message. Thank you for calling.",
        "calling_you": "This is {org} calling you back, as you asked. Putting you through.",
        "no_queue": "We cannot take calls right now. Thank you for calling.",
        "goodbye": "Thank you for calling.",
        "transfer": "Transferring you to {number}.",
        "not_recorded": "Understood: this call will not be recorded.",
    },
    "ca": {
        "connect": "El passem amb una persona.",
        "callback_offer": "Si prefereix que el truquem sense perdre el torn, premi la tecla {key}.",
        "callback_taken": "El trucarem {when}. Gràcies per trucar.",
        "no_number": "No veiem el seu número de telèfon, així que no el podem trucar.",
        "closed": "En aquest moment no el podem atendre.",
        "closed_reason": "Avui tenim tancat per {reason}.",
        "opens": "Tornem a atendre {when}.",
        "closed_callback": "Perquè el truquem {when}, premi la tecla {key}.",
        "closed_voicemail": "Per deixar un missatge, premi la tecla {key}.",
        "voicemail": "Deixi el seu missatge després del senyal i premi coixinet en acabar.",
        "voicemail_saved": "Hem rebut el seu missatge. Gràcies per trucar.",
        "calling_you": "El truquem de {org}, com ens va demanar. El passem amb una persona.",
        "no_queue": "Ara mateix no el podem atendre per telèfon. Gràcies per trucar.",
        "goodbye": "Gràcies per trucar.",
        "transfer": "El passem amb el {number}.",
        "hold": "L'atenem de seguida; si us plau, no pengi.",
        "not_recorded": "D'acord: aquesta trucada no es gravarà.",
    },
}

#: Words a caller may say instead of a key at the closed-queue choice and in the wait loop.
CALLBACK_WORDS: Mapping[str, tuple[str, ...]] = {
    "es": ("llamenme", "llameme", "llamar", "llamada", "devolver"),
    "en": ("call me", "call back", "callback", "ring me"),
    "ca": ("truqueu-me", "truquin-me", "truqui'm", "trucar", "trucada", "tornar la trucada"),
}
VOICEMAIL_WORDS: Mapping[str, tuple[str, ...]] = {
    "es": ("mensaje", "buzon", "dejar"),
    "en": ("message", "voicemail", "leave"),
    "ca": ("missatge", "bustia", "deixar"),
}


def base_language(language: str) -> str:
    """``"es-ES"`` -> ``"es"``; languages without sentences here fall back to English."""
    base = language.replace("_", "-").split("-")[0].lower()
    return base if base in PHRASES else "en"


def phrase(name: str, language: str, **fields: str) -> str:
    """A sentence of the call script in ``language`` (English when it has none)."""
    text = PHRASES[base_language(language)][name]
    return text.format(**fields) if fields else text


def speech_language(language: str) -> str:
    """The speech tag for ``language`` (``"es"`` -> ``"es-ES"``); unknown ones pass through."""
    return SPEECH_LANGUAGES.get(language, language)


# --------------------------------------------------------------------------------------------
# Small decisions
# --------------------------------------------------------------------------------------------


def should_announce(last_at: datetime | None, now: datetime, every_s: float) -> bool:
    """Whether the waiting caller hears their position and estimate again now (W1).

    The first pass of the wait loop always announces; later passes every ``every_s`` seconds.
    """
    if last_at is None:
        return True
    return (now - last_at).total_seconds() >= every_s


def _said(text: str | None, vocabulary: Mapping[str, tuple[str, ...]], language: str) -> bool:
    if not text:
        return False
    tokens = words(text)
    lang = base_language(language)
    return any(phrase_in(words(w), tokens) for w in vocabulary.get(lang, ()))


def wants_callback(digits: str | None, speech: str | None, language: str) -> bool:
    """Whether a waiting caller asked for a callback (the key or words like "llámenme")."""
    if digits:
        return digits[:1] == CALLBACK_KEY
    return _said(speech, CALLBACK_WORDS, language)


def closed_choice(
    digits: str | None, speech: str | None, language: str
) -> Literal["callback", "voicemail"] | None:
    """The caller's answer when the queue is closed: callback, voicemail, or not understood."""
    if digits:
        first = digits[:1]
        if first == CLOSED_CALLBACK_KEY:
            return "callback"
        if first == CLOSED_VOICEMAIL_KEY:
            return "voicemail"
        return None
    if _said(speech, CALLBACK_WORDS, language):
        return "callback"
    if _said(speech, VOICEMAIL_WORDS, language):
        return "voicemail"
    key = spoken_key(speech or "", base_language(language))
    return closed_choice(key, None, language) if key else None


def says(utterances: Iterable[Utterance]) -> tuple[Say, ...]:
    """The IVR's utterances as :class:`Say` actions."""
    return tuple(Say(u.text, u.language) for u in utterances if u.text)


def menu_hints(model: IvrModel, node: Node, language: str) -> tuple[str, ...]:
    """Words worth listening for at a menu (option keywords and the way to a person)."""
    out: list[str] = []
    for option in node.options:
        out.extend(option.keywords.get(language, ()))
    if node.agent_key is not None and node.agent_goto is not None:
        out.extend(model.agent_keywords.get(language, ()))
    return tuple(dict.fromkeys(out))


def closed_prompt(
    language: str, when: str | None, *, reason: str | None = None, opens: str | None = None
) -> str:
    """The closed-queue offer: why it is closed and when it opens, then a callback at a stated
    time (when possible) or a message (W6).

    ``when`` is the promised time as the caller hears it ("mañana antes de las 8:45");
    ``None`` when the caller's number is unknown and only the message can be offered.
    ``reason`` names today's holiday or closure; ``opens`` is the next opening ("mañana a las
    08:00").
    """
    parts = [
        phrase("closed_reason", language, reason=reason) if reason else phrase("closed", language)
    ]
    if opens:
        parts.append(phrase("opens", language, when=opens))
    if when is not None:
        parts.append(phrase("closed_callback", language, when=when, key=CLOSED_CALLBACK_KEY))
    parts.append(phrase("closed_voicemail", language, key=CLOSED_VOICEMAIL_KEY))
    return " ".join(parts)


def wait_actions(
    announcement: Sequence[Say], language: str, *, pause_s: float = POLL_S, quiet_s: float = 0.0
) -> tuple[Action, ...]:
    """One pass of the wait loop: what is said (maybe nothing), a short silence listening for
    the callback key, then back to the loop. It never holds the line longer than that, except
    on a line that is woken when an agent is chosen (see :class:`Gather`)."""
    return (
        Gather(
            kind="wait",
            prompts=tuple(announcement),
            language=language,
            timeout_s=1.0,
            speech=False,
            pause_s=pause_s,
            quiet_s=max(0.0, quiet_s),
        ),
        Poll(),
    )


#: A Twilio caller on hold hears the hold message, then this much silence, again and again.
HOLD_PAUSE_S = 15.0


def hold_actions(language: str) -> tuple[Action, ...]:
    """What a caller put on hold hears on the phone line until the agent resumes."""
    return wait_actions((Say(phrase("hold", language), language),), language, pause_s=HOLD_PAUSE_S)


def connect_now(woken: bool | None, offered_at: datetime | None, now: datetime) -> bool:
    """Whether this pass of the wait loop puts an offered caller through.

    ``woken`` is ``None`` on a line that is not woken (it polls: connect at once), ``True``
    for the fetch escucha's redirect caused, ``False`` for a plain pass on a woken line.
    """
    if woken is None or woken or offered_at is None:
        return True
    return (now - offered_at).total_seconds() >= WOKEN_GRACE_S


def quiet_for(last_announced: datetime | None, now: datetime, every_s: float) -> float:
    """Seconds until the next wait announcement is due (``every_s`` after the last one)."""
    if last_announced is None:
        return 0.0
    return max(0.0, every_s - (now - last_announced).total_seconds())


def path_steps(
    model: IvrModel | None, path: Sequence[Mapping[str, object]], language: str
) -> list[str]:
    """The IVR path stored on a contact, readable for the agent.

    Each step is ``node: key`` with the option's label when the model knows it
    (``"main: 2 · facturas"``); the agent and repeat keys are named.
    """
    out: list[str] = []
    person = {"es": "persona", "en": "person", "ca": "persona"}[base_language(language)]
    again = {"es": "repetir", "en": "repeat", "ca": "repetir"}[base_language(language)]
    for item in path:
        node_id, key = str(item.get("node", "")), str(item.get("key", ""))
        label = ""
        node = model.nodes.get(node_id) if model is not None else None
        default = model.default_language if model is not None else language
        if node is not None:
            for option in node.options:
                if option.key == key:
                    label = pick(option.label, language, default)
            if not label and key == node.agent_key:
                label = person
            if not label and key == node.repeat_key:
                label = again
        out.append(f"{node_id}: {key} · {label}" if label else f"{node_id}: {key}")
    return out
