"""The synthetic city's Decision 766 facts, and the rows they stand on, drawn per chunk, vectorised.

Each dossier's facts are drawn with shares by channel rising through the year (realism.py): an
electronic result, digitised, reused and citizen-store components, VNeID, a population reference, a fee
paid online. The generator then writes the rows intake writes for such a dossier: the components
received (from its version's component list: every required one and some optional ones, each with its
flags `digitised`, `reused`, `from_citizen_store`, `from_national_db`) and its fee lines (the version's,
`city.charged_fees`, with how and when they were paid). `index_flags` is what intake computes from the
dossier's columns and those rows (`dossiers.intake.index_flags`), which the generator's sample check
proves (`check.fact_mismatches`).

As at intake: a version without a component list gets no components, so none of the component facts
(intake refuses a component its version does not list); a version without a fee gets no fee line, and a
dossier without a fee line has no fee facts. The one fact without a row is the result's kind where the
catalogue does not say it: the generator takes `realism.RESULT_KIND_DEFAULT`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seed.generator import realism as R
from seed.generator.city import Version
from sla.core import index766
from sla.core.batch import NONE
from sla.core.calendar import RESOLVED_OUTCOMES

_LOCAL_OFFSET_MINUTES = 420
FACT_COLUMNS = ("electronic_result", "vneid_verified", "population_ref", "index_flags")
"""The dossier columns `draw` sets."""
COMPONENT_COLUMNS = index766.COMPONENT_FLAGS
FEE_COLUMNS = ("amount_vnd", "payment_channel", "paid_at")
"""What of a component and of a fee line the flags are computed from."""


@dataclass
class Facts:
    """A chunk's facts: the dossier columns they set (in the dossiers' order), and the rows of dossier_component and
    dossier_fee (without ids), in dossier and seq order."""

    columns: dict
    components: dict
    fees: dict


def draw(
    dossiers: dict, versions: dict[int, Version], rng: np.random.Generator, rows_rng: np.random.Generator, now: int
) -> Facts:
    """The facts of the chunk's dossiers (`dossiers`: the writer's columns, instants int64 UTC minutes). The facts
    are drawn from `rng`, the rows that carry them from `rows_rng`."""
    n = len(dossiers["id"])
    channel = np.asarray(dossiers["channel"], dtype=object)
    submitted = np.asarray(dossiers["submitted_at"], dtype=np.int64)
    received = np.asarray(dossiers["received_at"], dtype=np.int64)
    intake = np.where(received == NONE, submitted, received)
    first = np.where(submitted == NONE, received, submitted)  # when the applicant handed the dossier in
    local_day = (intake + _LOCAL_OFFSET_MINUTES) // 1440
    year_start = local_day.astype("datetime64[D]").astype("datetime64[Y]").astype("datetime64[D]").view(np.int64)
    t = np.clip((local_day - year_start) / 365.0, 0.0, 1.0)

    def share(shares) -> np.ndarray:
        if isinstance(shares, R.Rising):
            return shares.at(t)
        p = np.zeros(n)
        for name, rising in shares.items():
            rows = channel == name
            p[rows] = rising.at(t[rows])
        return p

    def drawn(shares) -> np.ndarray:
        return rng.random(n) < share(shares)

    version_ids = np.asarray(dossiers["procedure_id"], dtype=np.int64)
    table = _Table([versions[v] for v in np.unique(version_ids).tolist()])
    k = np.searchsorted(table.ids, version_ids)
    paper = table.paper[k]
    has_components = table.component_count[k] > 0
    fee = table.fee_due[k]
    resolved = np.isin(np.asarray(dossiers["outcome"], dtype=object), RESOLVED_OUTCOMES)
    refused = np.asarray(dossiers["outcome"], dtype=object) == "refused"
    online = channel == "online"
    # the draws in this order, from `rng` (the same seed draws the same facts)
    electronic = drawn(R.ELECTRONIC_RESULT) | ~paper  # an electronic result is an electronic file: always attached
    vneid = drawn(R.VNEID_VERIFIED)
    population = drawn(R.POPULATION_REF)
    digitised = drawn(R.DIGITISED)
    reused = drawn(R.REUSED)
    citizen_store = drawn(R.CITIZEN_STORE)
    national_db = drawn(R.NATIONAL_DB)
    paid_online = fee & drawn(R.PAID_ONLINE) & ~refused  # a dossier refused at intake pays nothing
    references = rng.integers(10**11, 10**12, n)

    components = _components(dossiers["id"], k, table, digitised, (reused, citizen_store, national_db), rows_rng)
    fees = _fees(dossiers["id"], k, table, paid_online, ~refused, channel, first, now, rows_rng)
    flags = index766.flags_array(
        result_paper=paper,
        result_kind_known=np.ones(n, dtype=bool),
        electronic_result=electronic,
        electronic_result_known=resolved,
        components_known=has_components,
        all_digitised=digitised,
        reused=reused,
        citizen_store=citizen_store,
        national_db=national_db,
        vneid=vneid,
        vneid_known=online,
        population_ref=population,
        fee=fee,
        paid_online=paid_online,
    )
    columns = {
        "electronic_result": np.where(resolved, electronic, -1).astype(np.int8),
        "vneid_verified": np.where(online, vneid, -1).astype(np.int8),
        "population_ref": [
            f"DC{r}" if p else None for r, p in zip(references.tolist(), population.tolist(), strict=True)
        ],
        "index_flags": flags.astype(np.int64),
    }
    return Facts(columns, components, fees)


class _Table:
    """The chunk's versions side by side: result kind, component lists and fee lines as flat arrays, each version's
    items from `*_start` for `*_count` (versions in id order)."""

    def __init__(self, versions: list[Version]) -> None:
        self.ids = np.asarray([v.id for v in versions], dtype=np.int64)
        self.paper = np.asarray([(v.result_kind or R.RESULT_KIND_DEFAULT) == "paper" for v in versions], dtype=bool)
        self.component_count = np.asarray([len(v.components) for v in versions], dtype=np.int64)
        self.component_start = np.cumsum(self.component_count) - self.component_count
        listed = [c for v in versions for c in v.components]
        self.seq = np.asarray([c.seq for c in listed], dtype=np.int64)
        self.name = np.asarray([c.name for c in listed] or [""], dtype=object)
        self.form = np.asarray([str(c.form) for c in listed] or [""], dtype=object)
        self.copies = np.asarray([c.copies for c in listed], dtype=np.int64)
        self.required = np.asarray([c.required for c in listed], dtype=bool)
        self.fee_count = np.asarray([len(v.fee_lines) for v in versions], dtype=np.int64)
        self.fee_start = np.cumsum(self.fee_count) - self.fee_count
        lines = [line for v in versions for line in v.fee_lines]
        self.fee_name = np.asarray([name for name, _ in lines] or [""], dtype=object)
        self.fee_amount = np.asarray([amount for _, amount in lines], dtype=np.int64)
        self.fee_due = np.asarray([any(amount > 0 for _, amount in v.fee_lines) for v in versions], dtype=bool)


def _expand(counts: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every item of every dossier: the dossier's row, the item's index in the flat table, its place in the dossier."""
    row = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    place = np.arange(len(row)) - first[row]
    return row, starts[row] + place, place


def _components(ids, k, table: _Table, digitised, sources, rng) -> dict:
    """The components received: the required ones of the list, an optional one with a share (at least the first
    listed when none else); each flag as the dossier's facts say. All digitised, or one on paper (the others
    digitised with a share); a reused, citizen-store or national-database component is one of the dossier's
    (another than the paper one where there are two or more), and digitised unless it is the paper one."""
    count = table.component_count[k]
    row, item, _ = _expand(count, table.component_start[k])
    kept = table.required[item] | (rng.random(len(row)) < R.OPTIONAL_COMPONENT)
    first = np.cumsum(count) - count
    none = (count > 0) & (np.bincount(row[kept], minlength=len(count)) == 0)
    kept[first[none]] = True
    row, item = row[kept], item[kept]
    received = np.bincount(row, minlength=len(count))
    place = np.arange(len(row)) - (np.cumsum(received) - received)[row]

    m = np.maximum(received, 1)
    on_paper = (rng.random(len(m)) * m).astype(np.int64)  # the paper one, where not all are digitised
    whole = digitised[row]
    flag_digitised = whole | ((rng.random(len(row)) < R.PARTLY_DIGITISED) & (place != on_paper[row]))
    paper_one = ~whole & (place == on_paper[row])
    flags = []
    for fact in sources:
        pick = (rng.random(len(m)) * m).astype(np.int64)
        pick = np.where(~digitised & (m > 1) & (pick == on_paper), (pick + 1) % m, pick)
        chosen = fact[row] & (place == pick[row])
        flag_digitised |= chosen & ~paper_one
        flags.append(chosen)
    reused, citizen_store, national_db = flags
    return {
        "dossier_id": np.asarray(ids, dtype=np.int64)[row],
        "seq": place + 1,
        "component_seq": table.seq[item],
        "name": table.name[item].tolist(),
        "form": table.form[item].tolist(),
        "copies": table.copies[item],
        "digitised": flag_digitised.astype(np.int8),
        "reused": reused.astype(np.int8),
        "from_citizen_store": citizen_store.astype(np.int8),
        "from_national_db": national_db.astype(np.int8),
    }


def _fees(ids, k, table: _Table, paid_online, pays, channel, handed_in, now: int, rng) -> dict:
    """The version's fee lines; each line with an amount paid (by a dossier not refused) a few minutes after the
    dossier was handed in: online (dvcqg or the provincial gateway) where the dossier's facts say so, else by
    bank or in cash; a free line, or a refused dossier's, unpaid."""
    row, item, place = _expand(table.fee_count[k], table.fee_start[k])
    amount = table.fee_amount[item]
    n = len(paid_online)
    dvcqg = np.zeros(n, dtype=bool)
    for name, p in R.DVCQG_SHARE.items():
        rows = channel == name
        dvcqg[rows] = rng.random(int(rows.sum())) < p
    bank = rng.random(n) < R.BANK_SHARE
    paid_at = np.minimum(handed_in + rng.integers(*R.PAYMENT_MINUTES, n, endpoint=True), now)
    by_dossier = np.where(paid_online, np.where(dvcqg, "dvcqg", "gateway"), np.where(bank, "bank", "cash"))
    paid = (amount > 0) & pays[row]
    payment_channel = np.where(paid, by_dossier[row].astype(object), None)
    return {
        "dossier_id": np.asarray(ids, dtype=np.int64)[row],
        "seq": place + 1,
        "name": table.fee_name[item].tolist(),
        "amount_vnd": amount,
        "payment_channel": payment_channel.tolist(),
        "paid_at": np.where(paid, paid_at[row], NONE),
        "recorded_at": np.where(paid, paid_at[row], handed_in[row]),
    }
