"""The applicant's name as the staff search reads it (dossiers.search.search, migrations 0023 and 0046).

A name typed as a whole (three words or more) is looked up by its key: its folded words sorted, so that word
order, accents and case do not matter and one range of an ordered index holds every dossier of that name,
newest first. PostgreSQL computes the key in SQL (`motcua_name_key`, created by migration 0023 and indexed);
SQLite calls this module's `name_key`, registered on each connection (api/db.py). Both must agree: the test
of the search runs on both.

A word or two typed are one of the name's terms: its words and every pair of them, sorted ('anh nguyen'), which
PostgreSQL indexes (`motcua_name_terms`, migration 0046), so that two common words are one posting list rather
than two to intersect. SQLite matches the words between spaces instead.
"""

NAME_KEY_FUNCTION = "motcua_name_key"
WHOLE_NAME_WORDS = 3
"""From this many words on, the words typed are a whole name: the applicants named exactly so (in any order)."""


def _name_words(search_text: str) -> list[str]:
    _, _, rest = search_text.partition(" ")
    if not rest:
        rest = search_text
    return [word for word in rest.split(" ") if word and not any("0" <= ch <= "9" for ch in word)]


def name_key(search_text: str | None) -> str | None:
    """`search_text` (folded: code, name, phone, identity number) → the name's words without digits, sorted:
    'hn-250602-0001 nguyen van anh 0912345678' → 'anh nguyen van'. None when it has no such word."""
    if not search_text:
        return None
    return " ".join(sorted(_name_words(search_text))) or None


def name_terms(search_text: str | None) -> set[str] | None:
    """`search_text` → the name's terms as `motcua_name_terms` indexes them: its distinct words without digits and
    every pair of them, sorted: 'hn-1 nguyen van anh 0912' → {'nguyen', 'van', 'anh', 'anh nguyen', 'anh van',
    'nguyen van'}."""
    if search_text is None:
        return None
    words = sorted(set(_name_words(search_text)))
    return {*words, *(f"{a} {b}" for i, a in enumerate(words) for b in words[i + 1 :])}


def key_of_words(words: list[str]) -> str:
    """The key a whole name typed as these (folded) words looks up; with one or two distinct words, the term."""
    return " ".join(sorted(words))
