"""The generator's Decision 766 facts stand on rows: every generated dossier has the components and fee lines its
`index_flags` say, from its version's component list and fee lines, as intake computes them."""

from collections import defaultdict
from datetime import UTC, date, datetime
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from dossiers import reading
from dossiers.models import Dossier, DossierComponent, DossierFee
from exchange.service import record_of
from procedures.models import Procedure, ProcedureComponent
from procedures.schemas import ComponentRead
from seed.generator import GenerationError, generate
from seed.generator import facts as dossier_facts
from seed.generator.check import fact_mismatches
from seed.generator.city import Version, charged_fees
from sla.core import index766 as ix
from sla.core.batch import NONE
from sla.core.calendar import LOCAL_TZ
from tests.seed.test_generator import DOSSIERS, calendars, city, fresh_engine  # noqa: F401  (fixture)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def minutes(instant: datetime) -> int:
    return int((instant - EPOCH).total_seconds() // 60)


def aware(instant: datetime | None) -> datetime | None:
    return instant if instant is None or instant.tzinfo else instant.replace(tzinfo=UTC)


def read_city(engine):
    with Session(engine) as session:
        dossiers = list(session.execute(select(Dossier).order_by(Dossier.id)).scalars())
        versions = {p.id: p for p in session.execute(select(Procedure)).scalars()}
        listed = defaultdict(list)
        for c in session.execute(select(ProcedureComponent).order_by(ProcedureComponent.seq)).scalars():
            listed[c.procedure_id].append(c)
        components, fees = defaultdict(list), defaultdict(list)
        for c in session.execute(select(DossierComponent).order_by(DossierComponent.seq)).scalars():
            components[c.dossier_id].append(c)
        for f in session.execute(select(DossierFee).order_by(DossierFee.seq)).scalars():
            fees[f.dossier_id].append(f)
        session.expunge_all()
    return dossiers, versions, listed, components, fees


def as_dict(row, names) -> dict:
    return {name: getattr(row, name) for name in names}


def test_every_dossier_s_flags_are_what_intake_computes_from_its_components_and_fee_lines(city):  # noqa: F811
    engine, _, report = city
    dossiers, versions, _, components, fees = read_city(engine)
    assert report.components == sum(map(len, components.values())) > DOSSIERS
    assert report.fees == sum(map(len, fees.values())) > DOSSIERS / 10
    problems = []
    for d in dossiers:
        columns = as_dict(d, dossier_facts.FACT_COLUMNS)
        problems += fact_mismatches(
            d.code, columns, versions[d.procedure_id].result_kind,
            [as_dict(c, dossier_facts.COMPONENT_COLUMNS) for c in components[d.id]],
            [as_dict(f, dossier_facts.FEE_COLUMNS) for f in fees[d.id]],
        )  # fmt: skip
    assert problems == []
    # a version whose result is electronic gives every resolved dossier its electronic result
    electronic = [d for d in dossiers if versions[d.procedure_id].result_kind == "electronic" and d.electronic_result
                  is not None]  # fmt: skip
    assert electronic and all(d.electronic_result for d in electronic)
    # every fact is there, on some dossiers and not on all
    for bit in (ix.COMPONENTS_KNOWN, ix.ALL_DIGITISED, ix.REUSED, ix.CITIZEN_STORE, ix.NATIONAL_DB, ix.FEE,
                ix.PAID_ONLINE):  # fmt: skip
        assert 0 < sum(bool(d.index_flags & bit) for d in dossiers) < len(dossiers), bit


def test_components_come_from_the_version_s_list_and_fee_lines_from_its_fee(city):  # noqa: F811
    engine, _, report = city
    dossiers, versions, listed, components, fees = read_city(engine)
    without_list = with_optional = 0
    for d in dossiers:
        mine, theirs = components[d.id], listed[d.procedure_id]
        if not theirs:  # as intake: nothing to receive, no component fact
            without_list += 1
            assert mine == [] and not d.index_flags & ix.COMPONENT_BITS, d.code
            continue
        by_seq = {c.seq: c for c in theirs}
        assert [c.seq for c in mine] == list(range(1, len(mine) + 1)) and mine, d.code
        assert [c.component_seq for c in mine] == sorted(c.component_seq for c in mine)
        for c in mine:
            entry = by_seq[c.component_seq]
            assert (c.name, c.form, c.copies) == (entry.name, entry.form, entry.copies)
        got = {c.component_seq for c in mine}
        if any(c.required for c in theirs):
            assert {c.seq for c in theirs if c.required} <= got, d.code
        with_optional += any(not by_seq[s].required for s in got)
    assert without_list > 0 and with_optional > 0

    now = report.now
    paid_channels = set()
    for d in dossiers:
        charged = charged_fees(versions[d.procedure_id])
        lines = fees[d.id]
        assert [(f.name, f.amount_vnd) for f in lines] == list(charged), d.code
        assert [f.seq for f in lines] == list(range(1, len(lines) + 1))
        handed_in = aware(d.submitted_at or d.received_at)
        for f in lines:
            if d.outcome == "refused" or f.amount_vnd == 0:
                assert f.payment_channel is None and f.paid_at is None, d.code
            else:
                assert handed_in < aware(f.paid_at) <= now and f.payment_channel, d.code
                paid_channels.add(f.payment_channel)
            assert aware(f.recorded_at) == (aware(f.paid_at) or handed_in)
    assert paid_channels == {"dvcqg", "gateway", "cash", "bank"}


def test_a_generated_dossier_shows_its_components_and_fee_lines_and_its_record_carries_them(city):  # noqa: F811
    """What the desk's dossier page and the API show (dossiers.reading.read), and the national record
    (exchange.service.record_of): the generated rows, none of the required components missing."""
    engine, calendar_for, report = city
    dossiers, _, _, components, fees = read_city(engine)
    chosen = [d for d in dossiers if components[d.id] and fees[d.id] and fees[d.id][0].paid_at][:5]
    assert len(chosen) == 5
    with Session(engine) as session:
        for d in chosen:
            dossier = session.get(Dossier, d.id)
            shown = reading.read(session, dossier, calendar_for=calendar_for, now=report.now)
            assert [(c.component_seq, c.name, c.digitised, c.reused, c.from_citizen_store, c.from_national_db)
                    for c in shown.components] == [
                (c.component_seq, c.name, c.digitised, c.reused, c.from_citizen_store, c.from_national_db)
                for c in components[d.id]]  # fmt: skip
            assert shown.missing_components == []
            assert [(f.name, f.amount_vnd, f.payment_channel) for f in shown.fees] == [
                (f.name, f.amount_vnd, f.payment_channel) for f in fees[d.id]]  # fmt: skip
            record = record_of(session, dossier, calendar_for=calendar_for)
            assert [(item["MaThanhPhanHoSo"], item["TenTepDinhKem"]) for item in record["TaiLieuNop"]] == [
                (str(c.component_seq), c.name) for c in components[d.id]]  # fmt: skip
            assert [item["TenPhiLePhi"] for item in record["DanhSachLePhi"]] == [f.name for f in fees[d.id]]


def test_digitisation_and_online_payment_rise_through_the_year(city):  # noqa: F811
    engine, _, _ = city
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT received_at, submitted_at, index_flags FROM dossier")).all()

    def share(bit, among, months):
        chosen = [flags for received, submitted, flags in rows
                  if flags & among and month(received or submitted) in months]  # fmt: skip
        return sum(bool(flags & bit) for flags in chosen) / len(chosen)

    first, last = range(1, 5), range(9, 13)
    digitised = ix.ALL_DIGITISED, ix.COMPONENTS_KNOWN
    assert share(*digitised, first) + 0.1 < share(*digitised, last)
    assert share(ix.PAID_ONLINE, ix.FEE, first) < share(ix.PAID_ONLINE, ix.FEE, last)


def month(value) -> int:
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(value)  # SQLite: text
    return aware(instant).astimezone(LOCAL_TZ).month


# --- without a database ------------------------------------------------------------------------------


def version(vid: int, components=(), fee_lines=(), result_kind=None) -> Version:
    return Version(id=vid, code=f"P{vid}", name="p", level="commune", agency_id=None, field_code="f",
                   online_level=None, has_fee=bool(fee_lines), result_kind=result_kind,
                   effective_from=date(2025, 1, 1), effective_to=None, rule=None, step_roles=[],
                   components=tuple(components), fee_lines=tuple(fee_lines))  # fmt: skip


def listed(*required: bool) -> list[ComponentRead]:
    return [ComponentRead(seq=i, name=f"Giấy {i}", form="copy", copies=1, required=r)
            for i, r in enumerate(required, start=1)]  # fmt: skip


def test_drawn_facts_are_their_rows_whatever_the_lists_without_a_database():
    """Lists of one component, of optional ones only, of many; no list; free and several fee lines, `[]`: the flags
    intake computes from the rows are the drawn ones, on every dossier."""
    versions = {
        1: version(1, listed(True)),
        2: version(2, listed(False, False), [("Lệ phí", 0)]),
        3: version(3, listed(True, True, False, True, False), [("Phí", 15000), ("Lệ phí", 20000)],
                   result_kind="electronic"),
        4: version(4),
        5: version(5, listed(True, False), [("Lệ phí", 50000)], result_kind="paper"),
    }  # fmt: skip
    rng = np.random.default_rng(3)
    n = 20_000
    received = minutes(datetime(2025, 1, 2, 2, tzinfo=UTC)) + rng.integers(0, 360 * 1440, n)
    online = rng.random(n) < 0.3
    outcome = rng.choice(["early", "on_time", "late", "refused", "withdrawn", ""], size=n)
    dossiers = {
        "id": np.arange(1, n + 1),
        "code": [f"D{i}" for i in range(n)],
        "procedure_id": rng.integers(1, 6, n),
        "channel": np.where(online, "online", rng.choice(["counter", "post"], size=n)).tolist(),
        "submitted_at": np.where(online, received - 600, NONE),
        "received_at": received,
        "outcome": outcome.tolist(),
    }
    now = int(received.max()) + 10
    drawn = dossier_facts.draw(dossiers, versions, np.random.default_rng(1), np.random.default_rng(2), now)
    parts, fees = drawn.components, drawn.fees

    def spans(rows):
        ids = rows["dossier_id"]
        return np.searchsorted(ids, dossiers["id"]), np.searchsorted(ids, dossiers["id"], side="right")

    part_of, fee_of = spans(parts), spans(fees)

    def flag(value):
        return None if value < 0 else bool(value)

    problems = []
    for i in range(n):
        columns = {"electronic_result": flag(drawn.columns["electronic_result"][i]),
                   "vneid_verified": flag(drawn.columns["vneid_verified"][i]),
                   "population_ref": drawn.columns["population_ref"][i],
                   "index_flags": int(drawn.columns["index_flags"][i])}  # fmt: skip
        comps = [{name: flag(parts[name][j]) for name in dossier_facts.COMPONENT_COLUMNS}
                 for j in range(part_of[0][i], part_of[1][i])]  # fmt: skip
        lines = [{"amount_vnd": int(fees["amount_vnd"][j]), "payment_channel": fees["payment_channel"][j],
                  "paid_at": None if fees["paid_at"][j] == NONE else int(fees["paid_at"][j])}
                 for j in range(fee_of[0][i], fee_of[1][i])]  # fmt: skip
        vid = int(dossiers["procedure_id"][i])
        problems += fact_mismatches(dossiers["code"][i], columns, versions[vid].result_kind, comps, lines)
        assert bool(comps) == (vid != 4)  # every dossier of a list receives a component, none without one
    assert problems == []
    flags = drawn.columns["index_flags"]
    for bit in (ix.ALL_DIGITISED, ix.REUSED, ix.CITIZEN_STORE, ix.NATIONAL_DB, ix.PAID_ONLINE, ix.FEE):
        assert 0 < (flags & bit != 0).sum() < n
    assert not (flags[dossiers["procedure_id"] == 2] & ix.FEE).any()  # a free line is no fee
    assert (np.asarray(fees["paid_at"]) <= now).all()


def test_fact_mismatches_names_a_bit_without_its_row():
    facts = {"electronic_result": None, "vneid_verified": None, "population_ref": None}
    assert fact_mismatches("X", {**facts, "index_flags": 0}, None, [], []) == []
    paid = [{"amount_vnd": 1000, "payment_channel": "dvcqg", "paid_at": datetime(2025, 3, 3, tzinfo=UTC)}]
    assert fact_mismatches("X", {**facts, "index_flags": ix.FEE | ix.PAID_ONLINE}, None, [], paid) == []
    (problem,) = fact_mismatches("X", {**facts, "index_flags": ix.FEE | ix.PAID_ONLINE}, None, [], [])
    assert "FEE" in problem and "PAID_ONLINE" in problem
    kind = ix.RESULT_KIND_KNOWN | ix.RESULT_PAPER  # the one fact kept without its source (the catalogue's gap)
    assert fact_mismatches("X", {**facts, "index_flags": kind}, None, [], []) == []
    assert fact_mismatches("X", {**facts, "index_flags": kind}, "electronic", [], [])


def test_charged_fees_read_the_catalogue_s_fee():
    def procedure(fee=None, fee_vnd=None, fee_lines=None):
        return SimpleNamespace(fee=fee, fee_vnd=fee_vnd, fee_lines=fee_lines)

    assert charged_fees(procedure("50000", 50000)) == (("Lệ phí", 50000),)
    assert charged_fees(procedure("x", 50000, [{"name": "Phí", "amount_vnd": 15000}])) == (("Phí", 15000),)
    assert charged_fees(procedure("50000", 50000, [])) == ()  # recorded: no fee
    assert charged_fees(procedure("2000/trang; từ trang 3: 1000/trang; tối đa 200000/bản")) == (("Lệ phí", 2000),)
    assert charged_fees(procedure("0 (đạt kỳ thi) / 100.000 (cấp lại)")) == (("Lệ phí", 100000),)
    assert charged_fees(procedure("0")) == charged_fees(procedure(None)) == charged_fees(procedure("miễn phí")) == ()


def test_a_dossier_whose_flags_are_not_its_rows_stops_the_generation(tmp_path, monkeypatch):
    engine = fresh_engine(f"sqlite:///{tmp_path / 'wrong.db'}")
    draw = dossier_facts.draw

    def wrong(*args, **kwargs):
        drawn = draw(*args, **kwargs)
        drawn.columns["index_flags"] = drawn.columns["index_flags"] | ix.REUSED  # a reuse without its component
        return drawn

    monkeypatch.setattr(dossier_facts, "draw", wrong)
    with pytest.raises(GenerationError, match="REUSED"):
        generate(engine, dossiers=200, year=2025, seed=1, calendar_for=calendars(engine))
    with Session(engine) as session:  # nothing written
        assert session.execute(text("SELECT count(*) FROM dossier")).scalar_one() == 0
    engine.dispose()
