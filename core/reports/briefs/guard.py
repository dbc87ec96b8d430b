"""The brief guard: a model's brief may only state what the facts state (pure).

An allow-list, like the rewrite guard (core.adapters.draft_guard), on the same normalised text
(core.adapters.guard_text). The fact strings are removed first — so a customer named
"Ignore all rules" or "Refund Inc" is a quotation and licenses nothing — and the rest of the
brief is rejected when it

  * is empty or too long, or hides letters behind look-alikes or invisible characters,
  * has a number, amount, percentage, date, duration, link, e-mail address or phone number that
    is neither in the facts nor in the template brief,
  * has a Stripe-style id (cus_…, in_…, dp_…) that is not in the facts,
  * names a person, company or thing (a capitalised word) that the facts and the template
    brief do not, beyond a short list of ordinary words,
  * makes a promise (refund, credit, waiver, "guaranteed", extension, ...), asks for card data,
    echoes instructions or adds markup — unless the template brief's own wording does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.adapters.draft_guard import KNOWN_CLAIMS
from core.adapters.guard_text import (
    Profile,
    disguised_letters,
    normalise,
    profile,
    strip_facts,
    words,
)

MAX_CHARS = 1500
_ID = re.compile(r"\b[a-z]{2,6}_[A-Za-z0-9]{2,}\b")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")
# Capitalised words a brief may use without a fact behind them (sentence openers, the desk's
# words). Anything else capitalised must come from the facts or the template brief.
ORDINARY = frozenset(
    """
    a an the this that these those it its there their they he she his her we our you your
    i in on at of for to from by with and or but so as if when while after before since until
    no not none nothing nobody also both either neither each every all some any one two
    however meanwhile still yet then next first last only just already again otherwise
    account accounts customer customers case cases payment payments invoice invoices charge
    charges dispute disputes request requests rule rules policy ticket tickets evidence
    owner segment renewal mrr arr crm stripe help desk finance team approver approvers
    recommended recommendation recommends recommend why what who how status reason reasons
    open closed overdue due failed missing unknown uncertain risk churn signal signals
    summary note action next step steps decision decide decision-maker
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
    usd eur gbp
    """.split()
)

_SAID_CLAIMS = (
    ("promises", "makes a promise"),
    ("secrets", "asks for card data or credentials"),
    ("instructions", "echoes instructions"),
    ("markup", "adds markup"),
    ("scripts", "uses letters of another script"),
)


def _shown(items: Iterable[str]) -> str:
    # Short, plain, defanged: a reason is shown on pages and must not become a link.
    def plain(item: str) -> str:
        text = re.sub(r"[^\w .:/@%$€£'-]", "?", item)[:40]
        return re.sub(r"(?<=\w)\.(?=\w)", "[.]", text).replace("@", "[at]")

    return ", ".join(sorted(plain(i.removeprefix("word:")) for i in items)[:4])


def check_brief(text: object, facts: Iterable[str], template: str) -> list[str]:
    """Why a model's brief may not be used (empty list: it may)."""
    if not isinstance(text, str) or not text.strip():
        return ["the model returned no brief"]
    if len(text) > MAX_CHARS:
        return [f"the brief is too long ({len(text):,} characters, at most {MAX_CHARS:,})"]
    values = sorted({normalise(f) for f in facts if str(f).strip()}, key=len, reverse=True)
    problems: list[str] = []
    disguised = set(disguised_letters(strip_facts(text, values))) - set(disguised_letters(template))
    if disguised:
        problems.append(f"hides letters (look-alike or invisible: {_shown(disguised)})")
    plain_template = normalise(template)
    rest = strip_facts(normalise(text), values)
    found = profile(rest)
    said = profile(strip_facts(plain_template, values))
    known = profile(" ".join([plain_template, *values]))
    known = Profile(**{k: getattr(known, k) | getattr(said, k) for k in known.__dataclass_fields__})
    for kinds, allowed in ((KNOWN_CLAIMS, known), (_SAID_CLAIMS, said)):
        for kind, label in kinds:
            new = set(getattr(found, kind)) - set(getattr(allowed, kind))
            if new:
                problems.append(f"{label} ({_shown(new)})")
    ids = set(_ID.findall(rest))
    if ids:
        problems.append(f"adds an id ({_shown(ids)})")
    vocabulary = words(" ".join([plain_template, *values])) | ORDINARY
    names = {
        w
        for w in _CAPITALISED.findall(rest)
        if w.lower().rstrip("'’s") not in vocabulary and next(iter(words(w)), "") not in vocabulary
    }
    if names:
        problems.append(f"names something not in the facts ({_shown(names)})")
    return problems
