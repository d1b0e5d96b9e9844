"""The staff search (`GET /api/v1/dossiers`, the desk): an exact code, the first digits of a phone or identity
number, words of the applicant's name, and filters, over a user's scope, newest first."""

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, func, literal, or_, select, text, union_all
from sqlmodel import Session

from dossiers.models import Dossier
from dossiers.names import WHOLE_NAME_WORDS, key_of_words
from dossiers.reading import agency_codes, summary_fields
from dossiers.schemas import DossierSummary
from procedures.models import Procedure
from procedures.service import fold, get_agency, procedure_ids_in_fields, procedure_ids_named

SEARCH_TOTAL_CAP = 10_000
"""A search counts its matches up to this many; past it the total reads "more than 10,000" (`Found.capped`)."""
_CODE_SHAPE = re.compile(r"\S+-\d{6}-\d+")  # `{agency code}-{yymmdd}-{sequence}`, as `_allocate_code` makes them
_FEW = 1_000  # matches counted: fewer than this are read by their own index (phone, name), not agency by agency
_NUMBER_SHAPE = re.compile(r"\+?[\d .]{3,}")  # a phone or identity number, whole or its first digits


class Found(NamedTuple):
    """One page of a search, and how many dossiers match (at most `SEARCH_TOTAL_CAP`, then `capped`)."""

    items: list[DossierSummary]
    total: int
    capped: bool


@dataclass(frozen=True)
class SearchTerms:
    """What a search box's text asks for: an exact code, the first digits of a phone or identity number, or words
    (of the applicant's name, accents and case ignored, in any order). Full-width digits count as digits."""

    code: str | None = None
    number: str | None = None
    words: tuple[str, ...] = ()

    @classmethod
    def of(cls, text: str | None) -> "SearchTerms":
        text = " ".join(unicodedata.normalize("NFKC", text or "").split())
        if not text:
            return cls()
        if _CODE_SHAPE.fullmatch(text):
            return cls(code=text)
        if _NUMBER_SHAPE.fullmatch(text) and sum(ch.isdigit() for ch in text) >= 3:
            return cls(number=_digits(text))
        return cls(words=tuple(fold(text).split()))


def _digits(text: str) -> str:
    """'+84 912.345' → '+84912345': the digits as stored (a leading + kept)."""
    text = unicodedata.normalize("NFKC", text).strip()
    return ("+" if text.startswith("+") else "") + "".join(ch for ch in text if ch.isdigit())


def search(
    session: Session,
    *,
    agency: str | None = None,
    status: int | None = None,
    procedure: str | None = None,
    field: str | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    q: str | None = None,
    code: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    id_number: str | None = None,
    within: Collection[int] | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Found:
    """Dossiers received at (or held by) an agency, newest first; with `within`, only those received at or
    held by one of these agencies (a user's scope). `q` is a search box's text (`SearchTerms`); `code` an exact
    code (case ignored); `name` words of the applicant's name; `phone` and `id_number` their first digits or all
    of them; `procedure` and `field` a code or words of the name. Name words are whole words: one or two find
    every name holding them; three or more are a whole name, the applicants named exactly so in any order
    (dossiers/names.py): 'Nguyễn Văn Anh' does not list 'Nguyễn Văn Anh Tuấn', 'văn anh' does.

    Built for a city of millions (bench/bench_search.py): an exact code is one index lookup; otherwise every
    agency of the scope is read newest first along its own index, as the receiving agency and as the holder,
    and the branches merged (each stops after one page); a whole name reads one range of the name key's index, a
    word or two one term of the name terms' index (PostgreSQL), read once and sorted, unless the term is common:
    then the scope's branches, the words checked on each row. The total is counted up to `SEARCH_TOTAL_CAP` only,
    or, for a name's term PostgreSQL expects at several times the cap, not counted (`ESTIMATED_CAP_FACTOR`)."""
    terms = SearchTerms.of(q)
    code = code.strip() if code and code.strip() else terms.code
    conditions = []
    if status is not None:
        conditions.append(Dossier.status_code == status)
    if received_from:
        conditions.append(Dossier.received_at >= received_from)
    if received_to:
        conditions.append(Dossier.received_at < received_to)
    for ids in (
        procedure_ids_named(session, procedure) if procedure else None,
        procedure_ids_in_fields(session, field) if field else None,
    ):
        if ids is not None:
            if not ids:
                return Found([], 0, False)
            conditions.append(Dossier.procedure_id.in_(ids))
    words = (*terms.words, *fold(name or "").split())
    name_words = [word for word in words if word.isalpha()]
    named = term = rechecked = None  # a word or two: their condition, its index term, the words checked on a row
    if len(name_words) >= WHOLE_NAME_WORDS:  # a whole name: one range of the name key's ordered index
        conditions.append(func.motcua_name_key(Dossier.search_text) == key_of_words(name_words))
    elif name_words:
        distinct = sorted(set(name_words))
        term, rechecked = _name_term(session, distinct), _name_has_words(session, distinct)
        # the words between spaces beside the term: where the index's matches are rechecked on their pages, or
        # the scope's rows filtered, this cheap test goes first and the terms are made for the rows that pass it
        named = rechecked if term is None else and_(term, rechecked)
        conditions.append(named)
    for word in words:
        if not word.isalpha():  # a part of a code, a date: any part of the search text
            conditions.append(Dossier.search_text.contains(word, autoescape=True))
    if terms.number:
        conditions.append(
            or_(Dossier.applicant_phone.startswith(terms.number), Dossier.applicant_id_number.startswith(terms.number))
        )
    if phone and (digits := _digits(phone)):
        conditions.append(Dossier.applicant_phone.startswith(digits))
    if id_number and (digits := _digits(id_number)):
        conditions.append(Dossier.applicant_id_number.startswith(digits))

    holders = _holders(session, agency, within)
    if code:
        rows = _by_code(session, code, holders, conditions)
        if rows or terms.code is None or q is None:
            return _found(session, rows, len(rows), False)
        conditions.append(Dossier.search_text.contains(fold(code), autoescape=True))  # not a code after all
    estimated = None if term is None else [term if condition is named else condition for condition in conditions]
    total, capped = _capped_total(session, holders, conditions, estimated=estimated)
    if not total:
        return Found([], 0, False)
    if total <= _FEW or (name_words and not capped):
        # a selective search (a phone, a name): its rows straight off its own index, sorted (a name's terms are
        # one index for the whole city: reading it once beats reading it again in every agency's branch)
        rows = _few_newest(session, holders, conditions, page=page, page_size=page_size)
    else:
        # many matches: the scope's newest rows until a page of them, a common name's words checked on each row
        # (its term's index would hand over the whole posting list to every branch)
        scan = [rechecked if condition is named else condition for condition in conditions]
        rows = _newest(session, holders, scan, page=page, page_size=page_size)
    return _found(session, rows, total, capped)


NAME_TERMS_INDEXED = "motcua_name_terms(dossier.search_text)"
"""PostgreSQL's index of the name's words and word pairs (ix_dossier_name_terms, migration 0046); the query must
spell it alike."""


def _name_term(session: Session, words: Sequence[str]):
    """On PostgreSQL, the name holds this word, or these two words, as one term of the name terms' index
    (ix_dossier_name_terms, migration 0046): one posting list even for two common words. None elsewhere."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return text(f"{NAME_TERMS_INDEXED} @> ARRAY[CAST(:name_term AS text)]").bindparams(name_term=key_of_words(words))


def _name_has_words(session: Session, words: Sequence[str]):
    """The applicant's name holds each of these whole words (folded, letters only), in any order: a word of the
    name, not a part of one ('anh' finds 'Nguyễn Văn Anh', not 'Trần Thanh'), checked on the row's text (whose
    first word, the code, holds digits: never one of these). Written as a position, not a LIKE pattern: PostgreSQL
    estimates a LIKE '% anh %' at a handful of rows city-wide and would then read a scope whole and sort it,
    where the newest rows read in order find a common name's page in a few hundred."""
    padded = literal(" ") + Dossier.search_text + literal(" ")
    position = func.strpos if session.get_bind().dialect.name == "postgresql" else func.instr
    return and_(*(position(padded, f" {word} ") > 0 for word in words))


def _holders(session: Session, agency: str | None, within: Collection[int] | None) -> list[int] | None:
    """The agencies whose dossiers (received or held) are searched; None: every dossier."""
    if agency:
        return [get_agency(session, agency).id]
    return None if within is None else sorted(within)


def _scope_branches(holders: list[int] | None) -> list:
    """The searched dossiers as disjoint conditions, each served by an index ordered by `received_at`: every
    dossier (ix_dossier_search_newest, migration 0046: partial on a condition only the search states, so that the
    reports never read it instead of ix_dossier_report's index-only scan); or received at agency A
    (ix_dossier_report, whose prefix is the receiving agency and received_at), or held by A and received outside
    the scope (ix_dossier_holder_received, which holds only the dossiers held elsewhere than where they were
    received)."""
    if holders is None:
        return [Dossier.search_text != ""]
    return [Dossier.receiving_agency_id == agency_id for agency_id in holders] + [
        (Dossier.current_agency_id == agency_id) & _held_elsewhere(holders) for agency_id in holders
    ]


def _held_elsewhere(holders: list[int]):
    """Held by another agency than the receiving one (ix_dossier_holder_received's rows), received outside `holders`."""
    return (Dossier.current_agency_id != Dossier.receiving_agency_id) & Dossier.receiving_agency_id.not_in(holders)


def _by_code(session: Session, code: str, holders: list[int] | None, conditions: list) -> list[Dossier]:
    query = select(Dossier).where(func.lower(Dossier.code) == code.lower(), *conditions)
    if holders is not None:
        query = query.where(or_(Dossier.receiving_agency_id.in_(holders), Dossier.current_agency_id.in_(holders)))
    return list(session.execute(query).scalars())


def _capped_total(
    session: Session, holders: list[int] | None, conditions: list, *, estimated: list | None = None
) -> tuple[int, bool]:
    """How many dossiers match, counted up to `SEARCH_TOTAL_CAP` + 1: (total, whether there are more). With
    `estimated` (the conditions with a name's index term alone), PostgreSQL's estimate of their matches decides
    first: at `ESTIMATED_CAP_FACTOR` times the cap or more, there are more than the cap, uncounted."""
    if estimated is not None:
        expected = sum(_estimated_rows(session, branch) for branch in _scope_queries(holders, estimated))
        if expected >= ESTIMATED_CAP_FACTOR * SEARCH_TOTAL_CAP:
            return SEARCH_TOTAL_CAP, True
    total = 0
    for branch in _scope_queries(holders, conditions, by_agency=estimated is not None):
        left = SEARCH_TOTAL_CAP + 1 - total  # once past the cap, the other branches need not be counted
        total += session.execute(select(func.count()).select_from(branch.limit(left).subquery())).scalar_one()
        if total > SEARCH_TOTAL_CAP:
            break
    return (SEARCH_TOTAL_CAP, True) if total > SEARCH_TOTAL_CAP else (total, False)


def _scope_queries(holders: list[int] | None, conditions: list, *, by_agency: bool = False) -> list:
    """The matches as disjoint queries: every dossier, or those received in the scope and those held there. With
    `by_agency` (a name's term) one query an agency of a small scope: each is one lookup of the term and the agency
    in ix_dossier_name_terms (migration 0046), where a list of agencies would be checked on the table's rows."""
    if holders is None:
        return [select(literal(1)).select_from(Dossier).where(*conditions)]
    if by_agency and len(holders) <= _AGENCIES_ONE_BY_ONE:
        return [select(literal(1)).select_from(Dossier).where(scope, *conditions) for scope in _scope_branches(holders)]
    return [
        select(literal(1)).select_from(Dossier).where(Dossier.receiving_agency_id.in_(holders), *conditions),
        select(literal(1))
        .select_from(Dossier)
        .where(Dossier.current_agency_id.in_(holders), _held_elsewhere(holders), *conditions),
    ]


_AGENCIES_ONE_BY_ONE = 12


ESTIMATED_CAP_FACTOR = 2
"""A name's term the planner expects at least this many times the cap in the scope is shown as "more than 10,000"
uncounted: counting 10,001 of a common word's matches visits as many table pages. The planner counts each term of
ix_dossier_name_terms in its sample (a pair as a pair, migration 0046; 1,000 terms' frequencies kept from a
sample of 300,000 dossiers), so an estimate of 20,000 for a term held by fewer than 10,000 would take a sampling
error of about 16 standard deviations; below the factor, the matches are counted. On a table smaller than the
sample, the estimate is the count."""


def _estimated_rows(session: Session, query) -> float:
    """PostgreSQL's estimate of the rows `query` returns (its plan's top row count), without running it."""
    compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    plan = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
    return float(plan[0]["Plan"]["Plan Rows"])


def _few_newest(session: Session, holders: list[int] | None, conditions: list, *, page: int, page_size: int) -> list:
    query = select(Dossier).where(*conditions)
    if holders is not None:
        query = query.where(or_(Dossier.receiving_agency_id.in_(holders), Dossier.current_agency_id.in_(holders)))
    query = query.order_by(Dossier.received_at.desc(), Dossier.id.desc()).offset((page - 1) * page_size)
    return list(session.execute(query.limit(page_size)).scalars())


def _newest(session: Session, holders: list[int] | None, conditions: list, *, page: int, page_size: int) -> list:
    """One page, newest first: each scope branch read along its index up to the page's end, then merged."""
    depth = page * page_size
    order = (Dossier.received_at.desc(), Dossier.id.desc())
    branches = [
        select(Dossier.id, Dossier.received_at).where(scope, *conditions).order_by(*order).limit(depth).subquery()
        for scope in _scope_branches(holders)
    ]
    merged = union_all(*(select(b.c.id, b.c.received_at) for b in branches)).subquery()
    page_ids = (
        select(merged.c.id)
        .order_by(merged.c.received_at.desc(), merged.c.id.desc())
        .offset(depth - page_size)
        .limit(page_size)
    )
    rows = session.execute(select(Dossier).where(Dossier.id.in_(page_ids.scalar_subquery()))).scalars()
    return sorted(rows, key=lambda d: (d.received_at is not None, d.received_at or d.derived_at, d.id), reverse=True)


def _found(session: Session, rows: list[Dossier], total: int, capped: bool) -> Found:
    codes = agency_codes(session, {i for d in rows for i in (d.receiving_agency_id, d.current_agency_id)})
    names = {
        row.id: row
        for row in session.execute(
            select(Procedure.id, Procedure.name, Procedure.name_en).where(
                Procedure.id.in_({d.procedure_id for d in rows})
            )
        )
    }  # the versions the page's dossiers were received under
    items = [
        DossierSummary(
            **summary_fields(d, codes),
            procedure_name=names[d.procedure_id].name,
            procedure_name_en=names[d.procedure_id].name_en,
        )
        for d in rows
    ]
    return Found(items, total, capped)
