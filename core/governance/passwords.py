"""The password policy and argon2id hashing, used wherever a password is set.

A password must be 12 to 256 characters and hard to guess as judged by zxcvbn (a maintained
strength estimator that knows common passwords, keyboard patterns, repeats, sequences, dates and
leetspeak), with the user's own name, username and e-mail as extra dictionary words. Length is
checked first, so an oversized password never reaches the estimator or the hasher.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from zxcvbn import zxcvbn

from core.errors import InputError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MIN_STRENGTH = 3  # zxcvbn score 0-4; 3 = "safely unguessable" against an offline slow hash
# The estimator's cost grows quickly with length; the first 72 characters decide (a strong
# start stays strong whatever follows, and a longer password only adds to it).
_ESTIMATED_CHARACTERS = 72
OWN_WORDS_REST = 6  # letters and digits that must remain once the user's own words are removed

hasher = PasswordHasher()  # argon2id, salted, memory-hard; parameters live in each hash


def _user_words(user_inputs: Iterable[str | None]) -> list[str]:
    words: list[str] = []
    for value in user_inputs:
        if value:
            words.append(value.lower())
            words += [w for w in re.split(r"[^a-z0-9]+", value.lower()) if len(w) >= 3]
    return words


def _mostly_own_words(password: str, words: list[str]) -> bool:
    """True when little but the user's own words (and punctuation) is left of the password."""
    rest = password.lower()
    for word in sorted(words, key=len, reverse=True):
        rest = rest.replace(word, "")
    return len(rest) < len(password) and len(re.sub(r"[\W_]", "", rest)) < OWN_WORDS_REST


def check_password(password: str, user_inputs: Iterable[str | None] = ()) -> None:
    """Raise InputError saying what to fix unless `password` meets the policy."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(
            f"Passwords may have at most {MAX_PASSWORD_LENGTH} characters; choose a shorter one."
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"Passwords need at least {MIN_PASSWORD_LENGTH} characters; "
            "a few unrelated words make a good one."
        )
    words = _user_words(user_inputs)
    if _mostly_own_words(password, words):
        raise InputError(
            "This password is too easy to guess: it is built from your name, username or e-mail. "
            "Use words that have nothing to do with you."
        )
    result = zxcvbn(
        password[:_ESTIMATED_CHARACTERS], user_inputs=words, max_length=_ESTIMATED_CHARACTERS
    )
    if result["score"] >= MIN_STRENGTH:
        return
    why = (result["feedback"]["warning"] or "it follows a common pattern").rstrip(".")
    why = why[0].lower() + why[1:]
    tips = " ".join(result["feedback"]["suggestions"]) or "Add another word or two."
    raise InputError(f"This password is too easy to guess: {why}. {tips}")


def hash_password(password: str, user_inputs: Iterable[str | None] = ()) -> str:
    """A salted argon2id hash of `password`, after checking it against the policy."""
    check_password(password, user_inputs)
    return hasher.hash(password)


def generate_password() -> str:
    """A random one-time password (16 URL-safe characters) that meets the policy."""
    while True:
        password = secrets.token_urlsafe(12)
        try:
            check_password(password)
        except InputError:
            continue  # astronomically rare: a random draw that reads like a pattern
        return password
