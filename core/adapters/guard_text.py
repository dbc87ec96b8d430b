"""What a piece of text says once the tricks that hide it are undone (used by the rewrite guard).

    normalise()   NFKC; format (Cf) and control characters dropped; every non-ASCII character
                  that Unicode TR39's confusables table (shipped by `confusable_homoglyphs`)
                  lists as a look-alike of ASCII folded to it; whitespace collapsed
    profile()     the claims a text makes, by kind: numbers (digits and spelled-out numbers in
                  English, French, German and Spanish through `text2num`, plus "half",
                  "twice"...), amounts and percentages, dates, durations, links and domain-like
                  tokens (also "example[.]com", "secure-billing . xyz", "h t t p s : / /"),
                  e-mail addresses, phone numbers, promises, requests for card data or
                  credentials, echoed instructions, markup, and letters of another script

The guard compares a rewrite's profile with the template's: a claim of the rewrite that the
template (or its facts) does not make is a reason to keep the template.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from confusable_homoglyphs.confusables import confusables_data
from text_to_num import text2num

NUMBER_LANGUAGES = ("en", "fr", "de", "es")
# Words that are numbers in another language but ordinary English ("once" is 11 in Spanish).
_NOT_NUMBERS = {"once", "elf"}
_FRACTIONS = re.compile(
    r"\b(?:half|halves|halve|quarters?|thirds?|double|twice|triple|treble|dozens?|"
    r"moiti[eé]|demi|h[aä]lfte|halb\w*|doppel\w*|mitad|medio|doble)\b"
)


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_glyphs = [g["c"] for g in glyphs if g["c"].isascii()]
        if ascii_glyphs:
            target = ascii_glyphs[0]
            # TR39 maps capital I-like letters to "l"; keep the case the reader sees.
            table[ord(char)] = "I" if target == "l" and char.isupper() else target
    return table


_FOLD = _fold_table()


def is_hidden(char: str) -> bool:
    """A format or control character (zero-width space, bidi override, ...), not a line break."""
    return unicodedata.category(char) in ("Cf", "Cc") and char not in "\n\t\r"


def normalise(text: str) -> str:
    """NFKC, hidden characters removed, look-alikes folded to ASCII, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if c in "\n\t\r" else c for c in text if not is_hidden(c))
    text = text.translate(_FOLD)
    return re.sub(r"\s+", " ", text).strip()


def disguised_letters(text: str) -> list[str]:
    """Non-Latin letters that look like Latin ones, and hidden characters, in `text`."""
    out = []
    for c in unicodedata.normalize("NFKC", text):
        if is_hidden(c):
            out.append(f"U+{ord(c):04X}")
        elif c.isalpha() and not c.isascii() and ord(c) in _FOLD and not _is_latin(c):
            out.append(c)
    return out


def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def _deobfuscate(text: str) -> str:
    # "example[.]com", "example(dot)com", "example . com", "secure-billing dot xyz", "a[at]b"
    text = re.sub(r"\s*[\[({<]\s*(?:\.|dot|punkt|point|punto)\s*[\])}>]\s*", ".", text, flags=re.I)
    text = re.sub(r"(?<=\w)\s*[。｡·•∙⋅‧]\s*(?=\w)", ".", text)
    text = re.sub(r"(?<=\w) \. (?=\w)", ".", text)
    text = re.sub(r"(?<=\w) (?:dot|punkt|point|punto) (?=[a-z]{2,}\b)", ".", text, flags=re.I)
    text = re.sub(r"\s*[\[({<]\s*(?:at|@)\s*[\])}>]\s*", "@", text, flags=re.I)
    return text


_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_DOMAIN = re.compile(rf"\b(?:{_LABEL}\.)+[a-z]{{2,}}\b(?:/[^\s,;)]*)?", re.I)
_SCHEME = re.compile(
    r"\b[a-z][a-z0-9+.-]*://[^\s/]*|\bwww\.[^\s/]*|"
    r"\b(?:mailto|tel|sms|javascript|data|file|vbscript):[^\s]*",
    re.I,
)
_SQUASHED_SCHEME = re.compile(r"(?:[a-z]+:)?//[a-z0-9.-]{0,40}|www\.[a-z0-9.-]{0,40}", re.I)
_EMAIL = re.compile(r"[\w.+-]*@[\w-]+(?:\.[\w-]+)*")  # addresses and @handles
_PHONE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_MONEY = re.compile(
    r"[$€£¥₹¢%‰]|\b(?:usd|eur|gbp|dollars?|euros?|pounds?|cents?|bucks?|quid|per ?cent\w*|"
    r"pour ?cent|prozent|por ?ciento|porcentaje)\b"
)
_AMOUNT = re.compile(
    r"[$€£¥₹]\s?\d[\d.,]*\d|[$€£¥₹]\s?\d|\d[\d.,]*\s?(?:%|‰|usd\b|eur\b|gbp\b|dollars?\b|"
    r"euros?\b|pounds?\b|cents?\b|per ?cent\b|percent\b|pour ?cent\b|prozent\b|por ?ciento\b)"
)
_DATE = re.compile(
    r"\b(?:january|february|march|april|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|tomorrow|tonight|today|yesterday|next week|next month|this week|"
    r"this month|end of (?:the )?(?:week|month|year|quarter)|deadline|due date|"
    r"janvier|f[eé]vrier|mars|avril|juin|juillet|ao[uû]t|septembre|octobre|novembre|"
    r"d[eé]cembre|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|demain|"
    r"januar|februar|m[aä]rz|juni|juli|oktober|dezember|montag|dienstag|mittwoch|"
    r"donnerstag|freitag|samstag|sonntag|morgen|enero|febrero|marzo|abril|mayo|junio|julio|"
    r"agosto|septiembre|octubre|noviembre|diciembre|lunes|martes|mi[eé]rcoles|jueves|viernes|"
    r"s[aá]bado|domingo|ma[nñ]ana)\b"
)
_DURATIONS = {
    "minute": r"minutes?|minuten?|minutos?",
    "hour": r"hours?|heures?|stunden?|horas?",
    "day": r"days?|daily|jours?|tage?n?|d[ií]as?",
    "week": r"weeks?|weekly|fortnights?|semaines?|wochen?|semanas?",
    "month": r"months?|monthly|mois|monate?n?|mes|meses",
    "year": r"years?|yearly|annual\w*|ans|ann[eé]es?|jahre?n?|a[nñ]os?",
}
_DURATION = {k: re.compile(rf"\b(?:{v})\b") for k, v in _DURATIONS.items()}
# An offer or waiver the finance team did not approve, by kind (the label is what is compared).
_PROMISES = {
    "refund": r"refund\w*|reimburs\w*|money back|rembours\w*|r[uü]ckerstatt\w*|erstatt\w*|"
    r"reembols\w*|rimbors\w*",
    "credit": r"credit(?:s|ed)?\b(?!\s+cards?)|gutschrift\w*|avoirs?\b",
    "discount": r"discount\w*|coupon\w*|promo\w*|vouchers?|rebates?|(?:\d+ ?%|\d+ ?per ?cent|"
    r"percent|half|\d+) off\b|half price|r[eé]duction\w*|remise\w*|rabais|rabatt\w*|"
    r"descuento\w*|sconto",
    "free": r"(?<!feel )\bfree\b(?! to\b)|complimentary|on the house|on us\b|gratuit\w*|"
    r"gratis|kostenlos\w*|offert\w*",
    "waiver": r"waiv\w*|forgiv\w*|write[- ]?off|written off|cancel\w*|annul\w*|erlass\w*|"
    r"condon\w*|stundung\w*",
    "no charge": r"owe (?:us )?nothing|nothing (?:further |more |else )?(?:to pay|owed|due)|"
    r"(?:won'?t|will not|never|not) (?:be )?charg\w*|no (?:\w+ )?(?:charge|fee|cost|penalt\w*)s?\b|at no (?:extra )?cost|"
    r"(?:don'?t|do not|no need to) (?:need to |have to )?pay|rien [aà] payer|nichts (?:mehr )?zu zahlen|"
    r"nicht belastet|sin (?:costo|coste|cargo)|no (?:se )?(?:le )?cobra\w*",
    "extension": r"extension\w*|extend\w*|extra (?:time|days?|weeks?|months?)|more time|"
    r"additional time|grace period|postpon\w*|defer\w*|pause\w*|skip\w*|d[eé]lai\w*|"
    r"verl[aä]nger\w*|pr[oó]rroga\w*",
    "guarantee": r"guarantee\w*|promis\w*|compensat\w*|goodwill",
}
_PROMISE = {k: re.compile(rf"(?:{v})", re.I) for k, v in _PROMISES.items()}
# Card data and credentials: a template never asks for them (several languages).
_SECRET = re.compile(
    r"\b(?:cvc2?|cvv2?|cid|csc|security code|card ?(?:number|details|digits|data|info\w*)|"
    r"full card|long number|(?:16|sixteen)[- ]digit|expir\w* date|pin\b|pin code|passwords?|"
    r"passcodes?|pass phrase|one[- ]time (?:code|password)|otp|verification code|sms code|"
    r"log ?in details|credentials?|username|online banking|bank (?:login|details|account number)|"
    r"account number|routing number|sort code|iban|ssn|social security|"
    r"num[eé]ro de (?:la )?carte|cryptogramme|code (?:de s[eé]curit[eé]|secret|confidentiel)|"
    r"mot de passe|coordonn[eé]es bancaires|donn[eé]es (?:de (?:la )?carte|bancaires)|"
    r"kartennummer|kreditkarten\w*|pr[uü]fnummer|pr[uü]fziffer|sicherheitscode|passwort|kennwort|"
    r"geheimzahl|zugangsdaten|bankdaten|n[uú]mero de (?:la )?tarjeta|datos de (?:la )?tarjeta|"
    r"c[oó]digo de seguridad|contrase[nñ]a|clave\b|datos bancarios|numero della carta|"
    r"codice di sicurezza|n[uú]mero do cart[aã]o|senha)",
    re.I,
)
_ASK_FOR_SECRET = re.compile(
    r"\b(?:reply|respond|send|e-?mail|text|write|tell|give|share|provide|include|read out|"
    r"dm|message|call us)\b(?:[^\w.!?]+\w+){0,4}?[^\w.!?]+(?:card|cvc|cvv|code|password|pin|digits|login|"
    r"credentials)\b",
    re.I,
)
_INSTRUCTIONS = re.compile(
    r"\b(?:ignore|disregard|forget)\b(?:\W+\w+){0,3}?\W+(?:instructions?|rules?|prompts?|"
    r"above)\b|system prompt|as an ai\b|jailbreak",
    re.I,
)
_MARKUP = re.compile(r"!?\[[^\]]*\]\s*[(\[]|<\s*/?\s*[a-z][^>]*>|:[a-z][a-z-]*\[|\]\(", re.I)


def spoken_numbers(text: str) -> set[str]:
    """Values of numbers written as words (above one: "one" and "un" are mostly articles)."""
    out: set[str] = set()
    for word in _WORD.findall(text.lower()):
        if word in _NOT_NUMBERS:
            continue
        for lang in NUMBER_LANGUAGES:
            try:
                value = text2num(word, lang)
            except ValueError:
                continue
            if value > 1:
                out.add(str(value))
                break
    out.update(f"word:{w}" for w in _FRACTIONS.findall(text.lower()))
    return out


@dataclass(frozen=True)
class Profile:
    """The claims one text makes, by kind (normalised, lower case)."""

    numbers: frozenset[str] = field(default_factory=frozenset)
    money: frozenset[str] = field(default_factory=frozenset)
    dates: frozenset[str] = field(default_factory=frozenset)
    durations: frozenset[str] = field(default_factory=frozenset)
    links: frozenset[str] = field(default_factory=frozenset)
    emails: frozenset[str] = field(default_factory=frozenset)
    phones: frozenset[str] = field(default_factory=frozenset)
    promises: frozenset[str] = field(default_factory=frozenset)
    secrets: frozenset[str] = field(default_factory=frozenset)
    instructions: frozenset[str] = field(default_factory=frozenset)
    markup: frozenset[str] = field(default_factory=frozenset)
    scripts: frozenset[str] = field(default_factory=frozenset)


def _scripts(text: str) -> set[str]:
    return {
        unicodedata.name(c, "UNKNOWN").split()[0]
        for c in text
        if c.isalpha() and not c.isascii() and not _is_latin(c)
    }


def profile(normalised: str) -> Profile:
    """The claims of a text already passed through `normalise` (and stripped of facts)."""
    low = _deobfuscate(normalised).lower()
    squashed = re.sub(r"\s+", "", low)
    links = {m.group(0) for m in _DOMAIN.finditer(low)} | set(_SCHEME.findall(low))
    links |= set(_SQUASHED_SCHEME.findall(squashed))
    secrets = {m.group(0) for m in _SECRET.finditer(low)}
    secrets |= {f"asks for: {m.group(0)}" for m in _ASK_FOR_SECRET.finditer(low)}
    return Profile(
        numbers=frozenset(set(_DIGITS.findall(low)) | spoken_numbers(low)),
        money=frozenset(set(_MONEY.findall(low)) | set(_AMOUNT.findall(low))),
        dates=frozenset(_DATE.findall(low)),
        durations=frozenset(k for k, rx in _DURATION.items() if rx.search(low)),
        links=frozenset(links),
        emails=frozenset(_EMAIL.findall(low)),
        phones=frozenset(_PHONE.findall(low)),
        promises=frozenset(k for k, rx in _PROMISE.items() if rx.search(low)),
        secrets=frozenset(secrets),
        instructions=frozenset(m.group(0) for m in _INSTRUCTIONS.finditer(low)),
        markup=frozenset(m.group(0) for m in _MARKUP.finditer(low)),
        scripts=frozenset(_scripts(low)),
    )


def words(normalised: str) -> set[str]:
    """The distinct words of a normalised text, lower case, a plural "s" dropped."""
    return {
        w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORD.findall(normalised.lower())
    }


def strip_facts(text: str, facts: Iterable[str]) -> str:
    """`text` with each fact string (whole words only, longest first) replaced by a placeholder."""
    out = text
    for fact in sorted({f for f in facts if f}, key=len, reverse=True):
        out = re.sub(rf"(?<!\w){re.escape(fact)}(?!\w)", " fact", out, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", out).strip()
