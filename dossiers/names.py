"""The applicant's name as the staff search reads it (dossiers.search.search, migration 0023).

A name typed as a whole (three words or more) is looked up by its key: its folded words sorted, so that word
order, accents and case do not matter and one range of an ordered index holds every dossier of that name,
newest first. PostgreSQL computes the key in SQL (`motcua_name_key`, created by migration 0023 and indexed);
SQLite calls this module's `name_key`, registered on each connection (api/db.py). Both must agree: the test
of the search runs on both.
"""

NAME_KEY_FUNCTION = "motcua_name_key"
WHOLE_NAME_WORDS = 3
"""From this many words on, the words typed are a whole name: the applicants named exactly so (in any order)."""


def name_key(search_text: str | None) -> str | None:
    """`search_text` (folded: code, name, phone, identity number) → the name's words without digits, sorted:
    'hn-250602-0001 nguyen van anh 0912345678' → 'anh nguyen van'. None when it has no such word."""
    if not search_text:
        return None
    _, _, rest = search_text.partition(" ")
    if not rest:
        rest = search_text
    words = sorted(word for word in rest.split(" ") if word and not any("0" <= ch <= "9" for ch in word))
    return " ".join(words) or None


def key_of_words(words: list[str]) -> str:
    """The key a whole name typed as these (folded) words looks up."""
    return " ".join(sorted(words))
