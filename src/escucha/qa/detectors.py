"""The detectors of automatic QA (C4, C5): each checks a transcript against one criterion of
the scorecard, in Spanish and English, and answers ``met`` (``True``/``False``/``None`` for
"does not apply") with the indexes of the turns that are its evidence (:func:`analyse`); and
their agreement with reviewers' labels (:func:`detector_metrics`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from escucha.qa.transcripts import (
    Lang,
    Transcript,
    Turn,
    _words,
    detect_language,
    is_question,
    normalise,
    sentences,
    word_count,
)

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

#: Detector ids, in the order reports list them.
DETECTORS: tuple[str, ...] = (
    "greeting",
    "early_empathy",
    "questions_before_solution",
    "no_repeat_request",
    "holds_announced",
    "recap",
    "concrete_time",
    "no_over_explaining",
    "not_rushed",
)


# --- Detectors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A detector's answer: ``met`` (``None`` when the criterion does not apply) and the
    indexes of the turns that support it."""

    met: bool | None
    evidence: tuple[int, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    """Tunable limits of the detectors."""

    opening_agent_turns: int = 2
    empathy_agent_turns: int = 3
    closing_agent_turns: int = 3
    max_monologue_words: int = 60
    max_agent_talk_share: float = 0.85
    min_words_for_talk_share: int = 150
    max_words_per_minute: float = 220.0
    min_words_for_rate: int = 25
    brush_off_max_words: int = 8


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_NUM_ES = (
    r"\d+|un|una|uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|quince|"
    r"veinte|veinticuatro|treinta|cuarenta y ocho|setenta y dos|media"
)
_NUM_EN = (
    r"\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"twenty|twenty-four|thirty|forty-eight|seventy-two|half an?"
)
_DAYS_ES = r"lunes|martes|miercoles|jueves|viernes|sabado|domingo"
_DAYS_EN = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS_ES = (
    r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|"
    r"noviembre|diciembre"
)
_MONTHS_EN = (
    r"january|february|march|april|may|june|july|august|september|october|november|december"
)

#: Patterns over normalised text (see :func:`normalise`), per language.
PATTERNS: dict[Lang, dict[str, re.Pattern[str]]] = {
    "es": {
        "self_id": _rx(
            r"\b(le|la|les) (atiende|saluda|habla)\b",
            r"\bsoy [a-z]",
            r"\bmi nombre es\b",
            r"\bme llamo\b",
            r"\besta hablando con\b",
            r"\bhabla con [a-z]",
            r"\bgracias por (llamar|comunicarse|contactar) (a|con) [a-z]",
            r"\bbienvenid[oa]s? a [a-z]",
        ),
        "empathy": _rx(
            r"\b(lo )?lament(o|amos)\b",
            r"\b(lo )?sient(o|a)\b(?! bien)",
            r"\bsentimos\b",
            r"\b(disculpe|perdone) (las molestias|el (mal )?rato)\b",
            r"\bentiendo\b(?! bien)",
            r"\bcomprendo\b",
            r"\bque (pena|faena|mal|rabia|susto|disgusto|lata|horror|fastidio)\b",
            r"\b(me )?imagino\b",
            r"^vaya\b|\bvaya por dios\b",
            r"^(uf|ay|uy)\b",
            r"\btiene (usted )?(toda la )?razon\b",
            r"\bes (normal|logico|comprensible) que\b",
            r"\b(molest|grave|angustios|frustrante|preocupante|inaceptable|injust)",
            r"\bno (deberia|tendria que) haber pasado\b",
            r"\b(tranquil[oa]|no se preocupe)\b",
            r"\b(disgusto|preocupacion|susto)\b",
        ),
        "open_question": _rx(
            r"\ben que (le |les |te )?(puedo|podemos) (ayudar|servir)",
            r"\bcomo (le |les )?(puedo|podemos) (ayudar|colaborar|servir)",
            r"\bdigame\b",
            r"\bcon quien (tengo el gusto|hablo)\b",
        ),
        "closing_question": _rx(
            r"\balgo mas\b",
            r"\balguna (otra )?(duda|consulta|cosa)\b",
            r"\b(todo|esta) (correcto|claro|bien)\b",
            r"\bme (quedo|olvido|dejo) algo\b",
            r"\bquiere que (revisemos|veamos|miremos) algo\b",
            r"\bpuedo hacer por usted\b",
        ),
        "lookup_question": _rx(
            r"\b(dni|nie|nif|cif|cedula|pasaporte|documento)\b",
            r"\bnumero de (telefono|linea|cliente|pedido|envio|parte|cuenta|serie|poliza|"
            r"contrato|referencia|expediente|incidencia|factura|tarjeta|abonado)\b",
            r"^¿?(numero|telefono|nombre|direccion|codigo postal)\b",
            r"\b(la |su )?direccion\b",
            r"\bcodigo postal\b",
            r"\bfecha de nacimiento\b",
            r"\bnombre (completo|del titular)\b",
            r"\btitular\b",
        ),
        "permission_question": _rx(
            r"\b(le|te) (importa|parece( bien)?)\b",
            r"\bde acuerdo\?",
            r"\bvale\?",
            r"\bme permite\b",
            r"\bpuede esperar\b",
            r"\b(quiere|desea|prefiere) que\b",
            r"\bcual (quiere|prefiere|le va|le viene)\b",
        ),
        "repeat": _rx(
            r"\brepita(me|lo|melo)?\b",
            r"\brepitamelo\b",
            r"\b(puede|podria|pudiera|podrias|puedes) (usted )?repet",
            r"\brepetirme\b",
            r"\bme (lo |la )?repite\b",
            r"\b(me|nos) (lo |la )?(vuelve|vuelva|podria volver|puede volver) a "
            r"(decir|dar|contar|leer)\b",
            r"\bcomo dice\b",
            r"¿(como|perdon|que|mande)\?",
            r"\bno (le|te|les) (he )?(entendido|oido|escuchado)\b",
            r"\b(que|cual|como)( [a-z]+)? (me )?(decia|dijo|ha dicho|habia dicho)\b",
            r"\bde que .{0,30} me habla\b",
            r"\botra vez\?",
            r"\bde nuevo\?",
        ),
        "solution": _rx(
            r"\b(tiene|tendria|debe|deberia|hay) que\b(?! ser\b)",
            r"\blo que (puede|tiene que|debe|podemos) hacer\b",
            r"\b(puede|podria) (usted )?(hacer|pagar|domiciliar|probar|llamar|presentar|"
            r"enviar|reiniciar)\b",
            r"\b(reinicie|apague|encienda|desconecte|conecte|pruebe|espere|llame|presente|"
            r"deje|abran|cierre|envie|mande|pague|entre en|vaya a)\b",
            r"\b(le|se lo|se la|lo|la) (tramito|aplico|envio|mando|anulo|bloqueo|reactivo|"
            r"cambio|doy|devuelvo|desbloqueo|lanzo|pongo el|pongo la|soluciono)\b",
            r"\bvoy a (bloquear|tramitar|aplicar|enviar|anular|activar|cambiar|reactivar|"
            r"programar|solicitar|pasar|lanzar|hacer|gestionar)\b",
            r"\b(he|hemos) (solicitado|aplicado|tramitado|desbloqueado|anulado|bloqueado|"
            r"enviado|reactivado|cambiado|programado|lanzado|gestionado)\b",
            r"\b(eso|esto) (es que|pasa|se debe|ocurre)\b",
            r"\bsera (la|el|una|un)\b",
            r"\b(le|se lo) (cuento|explico)\b",
            r"\bla (solucion|causa|subida)\b",
            r"\b(le )?(recomiendo|aconsejo|sugiero|propongo)\b",
            r"\ble comento una opcion\b",
            r"\bse puede (fraccionar|cambiar|anular|devolver)\b",
            r"\ble puedo (dar|ofrecer|pasar)\b",
            r"\b(hay|tiene) (cobertura|una opcion|la opcion)\b",
            r"\b(esta|estan) (en reparto|activa|activo|suspendido|bloqueado|localizad)",
            r"\bsin problema\b",
        ),
        "hold_announce": _rx(
            r"\ben espera\b",
            r"\bespere(me)?\b",
            r"\baguarde\b",
            r"\bun (momento|momentito|minuto|minutito|minutico|segundo|segundito|instante)\b",
            r"\b(unos|un par de|dos|tres|cinco) (minutos|segundos|momentos)\b",
            r"\bno (cuelgue|se retire)\b",
            r"\bpermita(me)?\b",
            r"\ben linea\b",
            r"\b(puede|podria) esperar\b",
        ),
        "recap": _rx(
            r"\bresum",
            r"\brecapitul",
            r"\b(le )?repaso\b|\brepasamos\b",
            r"\bpara que quede claro\b",
            r"\bqueda(mos)? (asi|en que)\b",
            r"\bhemos quedado\b",
            r"\blo (que hemos|acordado|hablado)\b",
            r"\ble (confirmo|repito) lo\b",
        ),
        "promise": _rx(
            r"\b(llamar|contestar|responder|escribir|enviar|mandar|contactar|avisar|visitar|"
            r"pasar|ir|llegar|recoger|entregar|emitir|resolver|devolver|recuperar|revisar|"
            r"decir|dar)(a|an|e|emos)\b",
            r"\bse (pondra|pondran|pondremos) en contacto\b",
            r"\b(le|les|lo|la) (va|van|vamos) a (llamar|contactar|contestar|responder|escribir|"
            r"enviar|avisar|visitar|recoger)\b",
            r"\b(le|les|lo|la) (llaman|llamamos|contactan|contactamos|escriben|escribimos|"
            r"avisan|avisamos|contestan|contestamos|devolvemos|entregan)\b",
            r"\b(abro|abrimos|he abierto|hemos abierto|registro|registramos|queda registrad[oa]|"
            r"dejo registrad[oa]|paso nota)\b",
            r"\b(he|hemos) (programado|reservado|agendado|concertado|citado|pedido|solicitado)\b",
        ),
        "concrete_time": _rx(
            r"\b\d{1,2}[:.]\d{2}\b",
            r"\b(a|antes de|despues de|hasta|entre|de) las? (\d{1,2}|una|dos|tres|cuatro|"
            r"cinco|seis|siete|ocho|nueve|diez|once|doce)\b",
            rf"\b({_DAYS_ES})\b",
            r"\b(hoy|pasado manana)\b",
            r"(?<!la )(?<!esta )(?<!una )\bmanana\b",
            rf"\b\d{{1,2}} de ({_MONTHS_ES})\b",
            r"\b(antes|despues) del? (dia )?\d{1,2}\b",
            r"\bel dia \d{1,2}\b",
            rf"\b(en|dentro de|antes de|un plazo( maximo)? de|(un|como) maximo( de)?) "
            rf"(las proximas )?({_NUM_ES}) (minutos|horas|dias|semanas|mes|meses)\b",
            rf"\b({_NUM_ES}) (minutos|horas|dias habiles|dias laborables) como maximo\b",
            r"\b(en|un) (un )?(mes|semana) como maximo\b",
        ),
        "hurry": _rx(
            r"\brapidito\b",
            r"\b(digame|diga|dime|hable|conteste|sea) (mas )?(rapido|breve)\b",
            r"\brapido,? (que|por favor)\b",
            r"\btengo (mas|otras|muchas) llamadas\b",
            r"\b(llamadas|gente|clientes) en (cola|espera)\b",
            r"\btengo (la sala llena|prisa|cola)\b",
            r"\bal grano\b",
            r"\b(venga|hala),? (gracias|adios|hasta luego)\b",
            r"\bvale, vale\b",
            r"\bno (le )?puedo (decir|hacer) (nada )?mas\b",
        ),
        "goodbye": _rx(
            r"\badios\b",
            r"\bhasta (luego|pronto|otra)\b",
            r"\b(buenas|buen) (tardes|noches|dia)\.?$",
            r"\bque tenga (un )?buen",
            r"\balgo mas\?",
            r"\bya esta, gracias\b",
            r"\bpues ya esta\b",
        ),
    },
    "en": {
        "self_id": _rx(
            r"\bthis is [a-z]",
            r"\bmy name('s| is)\b",
            r"\b(i'm|i am) [a-z]+(,|\.| from| at| with| here| speaking)",
            r"\b[a-z]+ speaking\b",
            r"^[a-z]+ here\b|, [a-z]+ here\b",
            r"\byou'?re (speaking|through|talking) (to|with)\b",
            r"\bthank(s| you) for calling [a-z]",
            r"\bwelcome to [a-z]",
        ),
        "empathy": _rx(
            r"\b(i'm|i am|we're|we are) (so |really |very |terribly |truly |sincerely )?sorry\b",
            r"\bsorry (to hear|about|you|that|for)\b",
            r"\b(so|really|very|terribly) sorry\b",
            r"\bapologi[sz]e\b",
            r"\bi (completely |totally |fully |do )?understand\b",
            r"\bi can (only )?imagine\b|\bi imagine\b",
            r"\bi hear you\b",
            r"\b(that|this|it) must be\b",
            r"\b(frustrating|worrying|annoying|awful|stressful|upsetting|frightening|"
            r"concerning|unsettling|inconvenient|unacceptable|not acceptable|a shock|"
            r"a real pain|terrible|horrible)\b",
            r"\boh (no|dear)\b",
            r"\byou'?re (absolutely |completely |quite )?right\b",
            r"\b(doesn't|does not) sound right\b",
            r"\b(natural|understandable|fair) (to|that)\b",
            r"\bdon'?t worry\b",
            r"\bshould(n't| not)? have (been|happened)\b",
        ),
        "open_question": _rx(
            r"\bhow (can|may) (i|we) help\b",
            r"\bwhat can (i|we) do for you\b",
            r"\bhow can (i|we) assist\b",
            r"\bwhat'?s happening\?",
            r"\bwho (am i|i'm) (speaking|talking) (to|with)\b",
            r"\bgo ahead\b",
        ),
        "closing_question": _rx(
            r"\banything else\b",
            r"\bany (other )?questions\b",
            r"\bhave i missed\b",
            r"\ball good\?",
            r"\bis that (everything|all)\b",
            r"\bsomething else\b",
            r"\bdo for you\?",
        ),
        "lookup_question": _rx(
            r"\b(account|order|tracking|reference|policy|claim|serial|mobile|phone|card|"
            r"customer|contract|case) number\b",
            r"\bpost ?code\b|\bzip( code)?\b",
            r"\baddress\b",
            r"\bdate of birth\b",
            r"\bfull name\b|\byour name\b",
            r"\baccount holder\b",
        ),
        "permission_question": _rx(
            r"\b(would|do) you mind\b",
            r"\bis that (ok|okay|all right|alright)\b",
            r"\b(ok|okay|all right|alright)\?$",
            r"\bcan you (stay|hold)\b",
            r"\bcould you hold\b",
            r"\bwould you like\b",
            r"\bwhich (one|would you prefer|do you prefer|suits)\b",
        ),
        "repeat": _rx(
            r"\b(could|can|would|will) you (please )?(repeat|say (that|it) again|"
            r"go over (that|it) again)\b",
            r"\b(could|can|would) you\b[^.?!]{0,40}\bagain\?",
            r"\bplease repeat\b",
            r"^repeat (that|it)\b",
            r"\bsay (that |it )?again\b",
            r"\bcome again\b",
            r"\bpardon\?|^pardon\b",
            r"\bsorry,? what\?",
            r"^what\?",
            r"\bwhat was that( again)?\?",
            r"\bwhat did you (just )?say\b",
            r"\bi didn'?t (quite )?(catch|get|hear) (that|it|you|what)\b",
            r"\bone more time\b",
            r"\bwhat was (it|the) .{0,30} again\?",
        ),
        "solution": _rx(
            r"\byou (need|have|'ll need|will need|should|must|'d need) to\b",
            r"\byou can (change|pay|try|call|ring|appeal|send|go|use|restart)\b",
            r"^(just )?(restart|reboot|reset|unplug|switch|turn|try|move|wait|give it|ring|call|"
            r"appeal|send|pay|leave|upload|open|check)\b",
            r"\bjust (restart|reboot|leave|wait|send|tell)\b",
            r"\b(i'll|i will|i'm going to|we'll|we will|we can) (freeze|process|set up|cancel|"
            r"credit|book|arrange|chase|put you down|re-run|reactivate|remove|apply|refund|"
            r"split|spread|send|switch|change|fix)\b",
            r"\b(i'm|we're) (freezing|processing|cancelling|crediting|booking|arranging|"
            r"re-running|reactivating|removing|sending|raising|refunding)\b",
            r"\b(i've|we've) (credited|booked|cancelled|removed|applied|arranged|requested|"
            r"refunded|reactivated|switched|changed|fixed)\b",
            r"\b(that|this|it)('s| is| was) (because|due to|our (error|mistake)|a [a-z ]*fault|"
            r"normal)\b",
            r"\bthat would explain\b",
            r"\bthe (increase|problem|issue|reason|cause) (comes|is|was)\b",
            r"\bthere'?s an? [a-z-]+ (option|membership|plan|tariff)\b",
            r"\bbasically\b",
            r"\bthe thing is\b",
            r"\blet me explain\b",
            r"\b(i'd )?(recommend|suggest|advise)\b",
            r"\b(it's|it is) (out for delivery|active|suspended|barred|covered|fine)\b",
            r"\bthat's fine\b",
            r"\b(everywhere|it) is covered\b",
        ),
        "hold_announce": _rx(
            r"\bon hold\b",
            r"\bhold (for|on|the line|while)\b",
            r"\b(could|can|would) you (please )?hold\b",
            r"\bmind holding\b",
            r"\bstay on the line\b",
            r"\bbear with me\b",
            r"\b(one|a|just a) (moment|second|sec|minute|mo)\b",
            r"\b(two|three|a few|a couple of|couple of|few) (minutes|moments|seconds)\b",
            r"\bhang on\b",
            r"\bhold\?",
        ),
        "recap": _rx(
            r"\brecap\b",
            r"\bsum (it |that |things )?up\b",
            r"\bsumm(ary|arise|arize|arising|arizing)\b",
            r"\b(just|so) to confirm\b",
            r"\b(run|go) through what\b",
            r"\bwhat we'?ve (agreed|covered|discussed|done)\b",
            r"\bto pull (that|it|this|everything) together\b",
            r"\brepeat the plan\b",
            r"^so,? that'?s (?!it|all|everything|fine|great)",
            r"\bas agreed\b",
        ),
        "promise": _rx(
            r"\b(will|'ll|shall|going to) (call|phone|ring|contact|email|e-mail|write|reply|"
            r"respond|get back|be in touch|be with you|arrive|come|send|text|deliver|collect|"
            r"visit|look into|review|issue|let you know|hear|chase|confirm|recover)\b",
            r"\b(someone|somebody|they|we|he|she|an? [a-z]+)('ll| will) (call|contact|be|"
            r"get|let|write|phone|ring|email|come)\b",
            r"\bcall you back\b",
            r"\bwrite back\b",
            r"\bget back to you\b",
            r"\byou('ll| will) (get|receive) (an?|the|your)? ?(email|e-mail|text|sms|letter|"
            r"call|reply|answer|confirmation|update|message|written)",
            r"\byou('ll| will) hear (from|back)\b",
            r"\b(raise|raised|raising|open|opened|opening|log|logged|logging)\b[^.?!]{0,30}"
            r"\b(ticket|case|fault|complaint|claim|dispute|request|report)\b",
            r"\bmake a note\b",
            r"\b(i've|we've|i have|we have) (booked|arranged|scheduled|requested)\b",
        ),
        "concrete_time": _rx(
            r"\b\d{1,2}(:\d{2})? ?(am|pm)\b",
            r"\b\d{1,2}:\d{2}\b",
            r"\b(before|by|after|at|until|between) (\d{1,2}\b|noon|midday|midnight|half past|"
            r"quarter (past|to))",
            rf"\b({_DAYS_EN})\b",
            r"\b(today|tonight|tomorrow)\b",
            r"\bthis (afternoon|evening|morning)\b",
            rf"\b(within|in|inside) (the next )?({_NUM_EN}) (minutes?|hours?|days?|working days|"
            rf"business days|weeks?|months?)\b",
            rf"\bthe \d{{1,2}}(st|nd|rd|th)\b|\b({_MONTHS_EN}) \d{{1,2}}\b",
            r"\bnext (week|month)\b",
        ),
        "hurry": _rx(
            r"\bquickly,? please\b|\bquick(ly)? please\b",
            r"^(okay|ok|right|yep|so),? quick(ly)?\b",
            r"\b(be|make it) quick\b",
            r"\b(queue|lots|loads|load) of calls\b",
            r"\bcalls (waiting|in the queue|queuing)\b",
            r"\bin a (hurry|rush)\b",
            r"\bget to the point\b",
            r"\bfull waiting room\b",
            r"\b(okay|ok|right),? (thanks,? )?bye\b",
            r"\bbye then\b",
            r"\bcheers,? bye\b",
        ),
        "goodbye": _rx(
            r"\bbye\b",
            r"\bgoodbye\b",
            r"\bhave a (nice|good|lovely|great) (day|afternoon|evening|one)\b",
            r"\banything else\b",
            r"\bthat's it, thanks\b",
            r"\btake care\b",
        ),
    },
}


def _agent_turns(turns: Sequence[Turn]) -> list[int]:
    return [i for i, t in enumerate(turns) if t.speaker == "agent"]


def _has(lang: Lang, kind: str, text: str) -> bool:
    return PATTERNS[lang][kind].search(normalise(text)) is not None


_GENERIC_CAPS = _words(
    "hola buenas buenos buen dias tardes noches muy si digame diga alo bueno atencion "
    "cliente clientes servicio soporte departamento gracias en que puedo le la el los las "
    "un una con quien sí vale hello hi hey yes yeah good morning afternoon evening thanks "
    "thank you for customer customers service services support how can i what sorry who "
    "this is the a an please welcome support okay ok right"
)


def _names_a_proper_noun(text: str) -> bool:
    """A capitalised word that is not a common word: a company or a person's name."""
    for word in re.findall(r"[^\W\d_]+", text):
        if word[0].isupper() and normalise(word) not in _GENERIC_CAPS and len(word) > 1:
            return True
    return False


def detect_greeting(transcript: Transcript, lang: Lang, th: Thresholds) -> Finding:
    """The agent names themself or the company in their first turns.

    A self-introduction ("le atiende Marta", "this is Priya") counts in the first
    ``th.opening_agent_turns`` agent turns; a proper name (a capitalised word that is not a
    common greeting word, such as the company's name) only in the agent's first turn.
    """
    for rank, i in enumerate(_agent_turns(transcript.turns)[: th.opening_agent_turns]):
        text = transcript.turns[i].text
        if _has(lang, "self_id", text) or (rank == 0 and _names_a_proper_noun(text)):
            return Finding(True, (i,))
    return Finding(False, ())


def detect_early_empathy(transcript: Transcript, lang: Lang, th: Thresholds) -> Finding:
    """The agent acknowledges the customer's problem or feelings in their first turns."""
    for i in _agent_turns(transcript.turns)[: th.empathy_agent_turns]:
        if any(_has(lang, "empathy", s) for s in sentences(transcript.turns[i].text)):
            return Finding(True, (i,))
    return Finding(False, ())


def _is_repeat_turn(lang: Lang, text: str) -> bool:
    return any(_has(lang, "repeat", s) for s in sentences(text))


def detect_questions_before_solution(transcript: Transcript, lang: Lang, th: Thresholds) -> Finding:
    """The agent asks about the problem before proposing a solution or explanation.

    Questions in the agent's first turn, questions that open or close the call, ask for
    identification or lookup data, ask permission or offer a choice, and questions in a turn
    that asks the customer to repeat do not count as questions about the problem. A
    sentence that both asks and proposes ("le puedo dar el martes, ¿cuál quiere?") is a
    proposal.
    """
    first_question: tuple[int, int] | None = None
    first_solution: tuple[int, int] | None = None
    agent = _agent_turns(transcript.turns)
    for rank, i in enumerate(agent):
        text = transcript.turns[i].text
        repeat_turn = _is_repeat_turn(lang, text)
        for k, sentence in enumerate(sentences(text)):
            at = (i, k)
            solution = _has(lang, "solution", sentence)
            if solution and rank > 0 and first_solution is None:
                first_solution = at
            if (
                first_question is None
                and rank > 0
                and is_question(sentence)
                and not solution
                and not repeat_turn
                and not any(
                    _has(lang, kind, sentence)
                    for kind in (
                        "open_question",
                        "closing_question",
                        "lookup_question",
                        "permission_question",
                    )
                )
            ):
                first_question = at
    if first_question is None:
        return Finding(False, (first_solution[0],) if first_solution else ())
    if first_solution is None or first_question < first_solution:
        return Finding(True, (first_question[0],))
    return Finding(False, (first_solution[0],))


def detect_no_repeat_request(transcript: Transcript, lang: Lang, th: Thresholds) -> Finding:
    """``False`` when the agent asks the customer to repeat what they said."""
    hits = tuple(
        i for i in _agent_turns(transcript.turns) if _is_repeat_turn(lang, transcript.turns[i].text)
    )
    return Finding(not hits, hits)


def detect_holds_announced(transcript: Transcript, lang: Lang, th: Thresholds) -> Finding:
    """Every hold is announced in the agent's last turn before it; ``None`` with no hold."""
    turns = transcript.turns
    holds = [i for i, t in enumerate(turns) if t.speaker == "hold"]
    if not holds:
        return Finding(None, ())
    announced: list[int] = []
    unannounced: list[int] = []
    for h in holds:
        before = next((j for j in range(h - 1, -1, -1) if turns[j].speaker != "customer"), None)
        if (
            before is not None
            and turns[before].speaker == "agent"
            and _has(lang, "hold_announce", turns[before].text)
        ):
            announced.extend((before, h))
        else:
            unannounced.append(h)
    if unannounced:
        return Finding(False, tuple(unannounced))
    return Finding(True, tuple(announced))


_LEAD_IN = re.compile(r"^(so|entonces|asi que|pues bien)\b")
_EXPLAINING = re.compile(r"\b(explain|because|explico|porque|the thing is)\b")


def detect_recap(transcript: Transcript, lang: Lang, th: Thresholds) -> Finding:
    """The agent summarises what was agreed in their closing turns.

    A recap is a summary phrase ("para resumir", "to recap", "let me run through what we've
    agreed") or, failing that, a sentence that opens with "so"/"entonces" and enumerates
    at least three items (two commas, 15 words or more) without explaining.
    """
    for i in reversed(_agent_turns(transcript.turns)[-th.closing_agent_turns :]):
        for sentence in sentences(transcript.turns[i].text):
            norm = normalise(sentence)
            enumeration = (
                _LEAD_IN.match(norm) is not None
                and _EXPLAINING.search(norm) is None
                and norm.count(",") >= 2
                and word_count(norm) >= 15
            )
            if _has(lang, "recap", sentence) or enumeration:
                return Finding(True, (i,))
    return Finding(False, ())


def detect_concrete_time(transcript: Transcript, lang: Lang, th: Thresholds) -> Finding:
    """A promised callback, ticket, visit or answer comes with a concrete time.

    ``None`` when the agent promises nothing; ``True`` when, from the first promise on, the
    agent gives a clock time, a day or date, or a bounded delay ("within 48 hours").
    """
    agent = _agent_turns(transcript.turns)
    promises = [i for i in agent if _has(lang, "promise", transcript.turns[i].text)]
    if not promises:
        return Finding(None, ())
    timed = [
        i
        for i in agent
        if i >= promises[0] and _has(lang, "concrete_time", transcript.turns[i].text)
    ]
    if timed:
        return Finding(True, tuple(sorted({promises[0], *timed})))
    return Finding(False, tuple(promises))


@dataclass(frozen=True)
class TalkStats:
    """Talk measures: the agent's share of the words, the longest run of agent words without
    a customer turn or hold between, and the agent's speech rate where timings exist."""

    agent_words: int
    customer_words: int
    agent_talk_share: float
    longest_agent_monologue_words: int
    longest_monologue_turn: int | None
    agent_words_per_minute: float | None


def talk_stats(transcript: Transcript, th: Thresholds | None = None) -> TalkStats:
    """Measure talk share, longest agent monologue and agent speech rate.

    The speech rate is agent words over agent speaking time, counting only agent turns
    with a known duration (``end - start``, or the next turn's start when the end is not
    given, as in timestamped text) and ``None`` below ``th.min_words_for_rate`` words.
    """
    th = th or Thresholds()
    turns = transcript.turns
    agent_words = sum(word_count(t.text) for t in turns if t.speaker == "agent")
    customer_words = sum(word_count(t.text) for t in turns if t.speaker == "customer")
    total = agent_words + customer_words
    longest, longest_at, run, run_start = 0, None, 0, None
    for i, t in enumerate(turns):
        if t.speaker == "agent":
            if run == 0:
                run_start = i
            run += word_count(t.text)
            if run > longest:
                longest, longest_at = run, run_start
        else:
            run = 0
    timed_words, timed_s = 0, 0.0
    for i, t in enumerate(turns):
        if t.speaker != "agent" or t.start_s is None:
            continue
        end = t.end_s
        if end is None and i + 1 < len(turns):
            end = turns[i + 1].start_s
        if end is not None and end > t.start_s:
            timed_words += word_count(t.text)
            timed_s += end - t.start_s
    rate = 60.0 * timed_words / timed_s if timed_words >= th.min_words_for_rate else None
    return TalkStats(
        agent_words=agent_words,
        customer_words=customer_words,
        agent_talk_share=agent_words / total if total else 0.0,
        longest_agent_monologue_words=longest,
        longest_monologue_turn=longest_at,
        agent_words_per_minute=rate,
    )


def detect_no_over_explaining(transcript: Transcript, lang: Lang, th: Thresholds) -> Finding:
    """``False`` when the agent's longest monologue or share of the talk is too long."""
    stats = talk_stats(transcript, th)
    too_long = stats.longest_agent_monologue_words > th.max_monologue_words
    dominant = (
        stats.agent_words >= th.min_words_for_talk_share
        and stats.agent_talk_share > th.max_agent_talk_share
    )
    if too_long or dominant:
        return Finding(
            False,
            (stats.longest_monologue_turn,) if stats.longest_monologue_turn is not None else (),
        )
    return Finding(True, ())


def detect_not_rushed(transcript: Transcript, lang: Lang, th: Thresholds) -> Finding:
    """``False`` when the agent hurries the customer.

    Signs: hurry words ("rapidito", "I've got a queue of calls"); closing the call right
    after the customer trails off ("...", cut off), or right after a customer question
    with an answer of at most ``th.brush_off_max_words`` words; or a speech rate above
    ``th.max_words_per_minute`` where timings exist.
    """
    turns = transcript.turns
    hits: list[int] = []
    for i in _agent_turns(turns):
        text = turns[i].text
        if _has(lang, "hurry", text):
            hits.append(i)
            continue
        prev = next((j for j in range(i - 1, -1, -1) if turns[j].speaker != "hold"), None)
        if prev is None or turns[prev].speaker != "customer":
            continue
        cut_off = turns[prev].text.rstrip().endswith(("...", "…"))
        asked = turns[prev].text.rstrip().endswith("?")
        closing = [s for s in sentences(text) if _has(lang, "goodbye", s)]
        answer_words = sum(word_count(s) for s in sentences(text) if s not in closing)
        if closing and (cut_off or (asked and answer_words <= th.brush_off_max_words)):
            hits.append(i)
    stats = talk_stats(transcript, th)
    if stats.agent_words_per_minute is not None and (
        stats.agent_words_per_minute > th.max_words_per_minute
    ):
        hits.extend(_agent_turns(turns)[:1])
    return Finding(not hits, tuple(sorted(set(hits))))


class _Detector(Protocol):
    def __call__(self, transcript: Transcript, lang: Lang, th: Thresholds) -> Finding: ...


_DETECTOR_FUNCS: dict[str, _Detector] = {
    "greeting": detect_greeting,
    "early_empathy": detect_early_empathy,
    "questions_before_solution": detect_questions_before_solution,
    "no_repeat_request": detect_no_repeat_request,
    "holds_announced": detect_holds_announced,
    "recap": detect_recap,
    "concrete_time": detect_concrete_time,
    "no_over_explaining": detect_no_over_explaining,
    "not_rushed": detect_not_rushed,
}


@dataclass(frozen=True)
class Analysis:
    """Everything automatic QA says about one transcript."""

    lang: Lang
    findings: dict[str, Finding]
    stats: TalkStats
    turn_count: int
    hold_count: int


def analyse(
    transcript: Transcript, lang: Lang | None = None, thresholds: Thresholds | None = None
) -> Analysis:
    """Run every detector on ``transcript`` (in ``lang``, else the detected language)."""
    th = thresholds or Thresholds()
    chosen = lang or detect_language(transcript)
    findings = {name: _DETECTOR_FUNCS[name](transcript, chosen, th) for name in DETECTORS}
    return Analysis(
        lang=chosen,
        findings=findings,
        stats=talk_stats(transcript, th),
        turn_count=len(transcript.turns),
        hold_count=sum(1 for t in transcript.turns if t.speaker == "hold"),
    )


# --- Detector accuracy ----------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorMetrics:
    """Agreement of a detector with human labels over a set of transcripts.

    The *positive* class is a failure (``met is False``): precision is the share of the
    detector's failures that reviewers also marked as failures, recall the share of the
    reviewers' failures that the detector found. ``met_precision``/``met_recall`` are the
    same for ``met is True``; ``accuracy`` counts exact agreement over all three answers
    (``True``, ``False``, ``None``). A ratio with an empty denominator is ``None``.
    """

    n: int
    accuracy: float | None
    fail_precision: float | None
    fail_recall: float | None
    met_precision: float | None
    met_recall: float | None
    support_fail: int
    support_met: int
    support_na: int


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def detector_metrics(pairs: Iterable[tuple[bool | None, bool | None]]) -> DetectorMetrics:
    """Metrics from ``(predicted, labelled)`` answer pairs."""
    items = list(pairs)
    n = len(items)

    def count(pred: bool | None, gold: bool | None) -> int:
        return sum(1 for p, g in items if p is pred and g is gold)

    def predicted(value: bool) -> int:
        return sum(1 for p, _ in items if p is value)

    def labelled(value: bool | None) -> int:
        return sum(1 for _, g in items if g is value)

    return DetectorMetrics(
        n=n,
        accuracy=_ratio(sum(1 for p, g in items if p is g), n),
        fail_precision=_ratio(count(False, False), predicted(False)),
        fail_recall=_ratio(count(False, False), labelled(False)),
        met_precision=_ratio(count(True, True), predicted(True)),
        met_recall=_ratio(count(True, True), labelled(True)),
        support_fail=labelled(False),
        support_met=labelled(True),
        support_na=labelled(None),
    )
