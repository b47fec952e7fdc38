"""Words that must not appear inside a study id a participant is handed.

Study ids are random lowercase letters, so now and then one spells something rude. The list is
short on purpose: it covers the common English profanity and slurs a participant or a research
assistant might notice, and each entry rules out only a tiny share of the possible ids.
"""

OFFENSIVE_WORDS = frozenset(
    {
        "anal",
        "anus",
        "arse",
        "ass",
        "bitch",
        "boob",
        "butt",
        "chink",
        "clit",
        "cock",
        "coon",
        "crap",
        "cum",
        "cunt",
        "damn",
        "dick",
        "dike",
        "dildo",
        "dyke",
        "fag",
        "fuck",
        "gay",
        "gook",
        "homo",
        "hore",
        "jap",
        "jizz",
        "kike",
        "kill",
        "milf",
        "nazi",
        "negro",
        "nig",
        "paki",
        "penis",
        "piss",
        "poo",
        "porn",
        "pube",
        "puss",
        "rape",
        "retard",
        "sex",
        "shit",
        "slag",
        "slut",
        "spic",
        "suck",
        "tit",
        "turd",
        "twat",
        "wank",
        "whore",
    }
)


def contains_offensive_word(text: str) -> bool:
    """True when any blocklisted word appears anywhere in the (lowercase) text."""
    return any(word in text for word in OFFENSIVE_WORDS)
