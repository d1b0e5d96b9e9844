"""Decision 766/QĐ-TTg: a dossier's facts as bits, and every indicator's rate and points (index766.md).

Pure: the split of points and the thresholds are data (`Formula` rows, read from
seed/data/index766_formulas.csv by sla/scorecard.py), each under a versioned id (`766-2.1-v1`): a
change of rule is a new id, and a frozen figure keeps the id it was computed with.

A dossier's Decision 766 facts are packed into one small integer (`index_flags`), written with the
dossier (intake, events, the generator), so that the scorecard counts every unit's dossiers in one
grouped scan. `dossier_flags` packs one dossier; `flags_array` is its vectorised twin (the generator),
proven equal by a test.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# --- a dossier's facts as bits -------------------------------------------------------------------

RESULT_PAPER = 1 << 0  # its procedure version's result is a paper document
RESULT_KIND_KNOWN = 1 << 1  # the version says what its result is
ELECTRONIC_RESULT = 1 << 2  # an electronic result file is attached
ELECTRONIC_RESULT_KNOWN = 1 << 3  # whether one is attached was recorded
COMPONENTS_KNOWN = 1 << 4  # at least one received component carries its flags
ALL_DIGITISED = 1 << 5  # every received component with flags is digitised (none recorded not digitised)
REUSED = 1 << 6  # a component reused from an earlier digitised result
CITIZEN_STORE = 1 << 7  # a component taken from the citizen's personal data store
NATIONAL_DB = 1 << 8  # a component taken from a national database
VNEID = 1 << 9  # filed by an account verified with VNeID
VNEID_KNOWN = 1 << 10
POPULATION_REF = 1 << 11  # a population database reference is recorded
FEE = 1 << 12  # fee lines with an amount to pay
PAID_ONLINE = 1 << 13  # a fee line paid through the national platform (dvcqg) or the provincial gateway

ONLINE_PAYMENT_CHANNELS = ("dvcqg", "gateway")
COMPONENT_BITS = COMPONENTS_KNOWN | ALL_DIGITISED | REUSED | CITIZEN_STORE | NATIONAL_DB
FEE_BITS = FEE | PAID_ONLINE
RESULT_KIND_BITS = RESULT_KIND_KNOWN | RESULT_PAPER


def dossier_flags(
    *,
    result_kind: str | None,
    electronic_result: bool | None,
    components: Iterable[Mapping[str, bool | None]] = (),
    vneid_verified: bool | None = None,
    population_ref: str | None = None,
    fees: Iterable[Mapping] = (),
) -> int:
    """The bits of one dossier. `components`: its received components' flags (`digitised`, `reused`,
    `from_citizen_store`, `from_national_db`, each None when not recorded); `fees`: its fee lines
    (`amount_vnd`, `payment_channel`, `paid_at`)."""
    flags = 0
    if result_kind is not None:
        flags |= RESULT_KIND_KNOWN | (RESULT_PAPER if result_kind == "paper" else 0)
    if electronic_result is not None:
        flags |= ELECTRONIC_RESULT_KNOWN | (ELECTRONIC_RESULT if electronic_result else 0)
    recorded = [c for c in components if any(c.get(k) is not None for k in COMPONENT_FLAGS)]
    if recorded:
        flags |= COMPONENTS_KNOWN
        if all(c.get("digitised") is not False for c in recorded) and any(c.get("digitised") for c in recorded):
            flags |= ALL_DIGITISED
        for key, bit in (("reused", REUSED), ("from_citizen_store", CITIZEN_STORE), ("from_national_db", NATIONAL_DB)):
            if any(c.get(key) for c in recorded):
                flags |= bit
    if vneid_verified is not None:
        flags |= VNEID_KNOWN | (VNEID if vneid_verified else 0)
    if population_ref:
        flags |= POPULATION_REF
    for fee in fees:
        if fee.get("amount_vnd", 0) > 0:
            flags |= FEE
        if fee.get("paid_at") is not None and fee.get("payment_channel") in ONLINE_PAYMENT_CHANNELS:
            flags |= PAID_ONLINE
    return flags


COMPONENT_FLAGS = ("digitised", "reused", "from_citizen_store", "from_national_db")


def flags_array(
    *,
    result_paper: np.ndarray,
    result_kind_known: np.ndarray,
    electronic_result: np.ndarray,
    electronic_result_known: np.ndarray,
    components_known: np.ndarray,
    all_digitised: np.ndarray,
    reused: np.ndarray,
    citizen_store: np.ndarray,
    national_db: np.ndarray,
    vneid: np.ndarray,
    vneid_known: np.ndarray,
    population_ref: np.ndarray,
    fee: np.ndarray,
    paid_online: np.ndarray,
) -> np.ndarray:
    """`dossier_flags` over arrays of booleans, one per fact already reduced per dossier (int16 out).

    A fact's bit is set only where it is known (e.g. ELECTRONIC_RESULT only with ELECTRONIC_RESULT_KNOWN,
    ALL_DIGITISED and the component bits only with COMPONENTS_KNOWN), as `dossier_flags` sets them."""
    out = np.zeros(len(result_paper), dtype=np.int16)
    pairs = (
        (result_kind_known & result_paper, RESULT_PAPER),
        (result_kind_known, RESULT_KIND_KNOWN),
        (electronic_result_known & electronic_result, ELECTRONIC_RESULT),
        (electronic_result_known, ELECTRONIC_RESULT_KNOWN),
        (components_known, COMPONENTS_KNOWN),
        (components_known & all_digitised, ALL_DIGITISED),
        (components_known & reused, REUSED),
        (components_known & citizen_store, CITIZEN_STORE),
        (components_known & national_db, NATIONAL_DB),
        (vneid_known & vneid, VNEID),
        (vneid_known, VNEID_KNOWN),
        (population_ref, POPULATION_REF),
        (fee, FEE),
        (paid_online, PAID_ONLINE),
    )
    for condition, bit in pairs:
        out |= np.where(np.asarray(condition, dtype=bool), np.int16(bit), np.int16(0))
    return out


# --- formulas ------------------------------------------------------------------------------------

GROUPS = {
    "1": "Công khai, minh bạch",
    "2": "Tiến độ, kết quả giải quyết",
    "3": "Dịch vụ công trực tuyến",
    "3'": "Thanh toán trực tuyến",
    "4": "Số hóa hồ sơ",
    "5": "Mức độ hài lòng",
}
MAX_POINTS = 100.0


@dataclass(frozen=True)
class Formula:
    """One indicator's rule: its points, its threshold (full points at or above it; None: proportional),
    what it scores when nothing falls under it (`when_empty`: "full" or "none"), and the rule's other
    numbers (`parameters`, e.g. 1.1's working days per kind of publishing authority)."""

    indicator: str
    formula: str
    group: str
    name: str
    max_points: float
    threshold: float | None
    when_empty: str
    rule: str
    parameters: tuple[tuple[str, float], ...] = ()

    def parameter(self, key: str) -> float:
        """One of the rule's numbers; a formula row without it is a broken formulas file."""
        for name, value in self.parameters:
            if name == key:
                return value
        known = ", ".join(name for name, _ in self.parameters) or "none"
        raise ValueError(f"indicator {self.indicator} ({self.formula}) has no parameter {key!r}; it has: {known}")


def parse_parameters(text: str) -> tuple[tuple[str, float], ...]:
    """`province=5;ministry=20` → (("province", 5.0), ("ministry", 20.0)); empty → ()."""
    pairs = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"a formula parameter is key=number, not {part.strip()!r}")
        try:
            pairs.append((key.strip(), float(value)))
        except ValueError:
            raise ValueError(f"formula parameter {key.strip()!r}: {value.strip()!r} is not a number") from None
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError(f"a formula parameter is given twice: {text!r}")
    return tuple(pairs)


@dataclass(frozen=True)
class Figures:
    """An indicator's inputs: `numerator` / `denominator` makes the rate; `rate`, when given, overrides it
    (5.3, 5.4, 3.3 compose theirs). `recorded`: False when the data it needs was never recorded."""

    numerator: float | None
    denominator: float | None
    rate: float | None = None
    recorded: bool = True


def rate_of(figures: Figures) -> float | None:
    if figures.rate is not None:
        return min(1.0, max(0.0, figures.rate))
    if not figures.denominator:
        return None
    return min(1.0, max(0.0, figures.numerator / figures.denominator))


def points(formula: Formula, rate: float | None) -> float:
    """The general rule: full points at or above the threshold, else rate × max / threshold; without a
    threshold, rate × max. No case under the indicator (rate None): full or none, as the formula says."""
    if rate is None:
        return formula.max_points if formula.when_empty == "full" else 0.0
    if formula.threshold is None:
        return formula.max_points * rate
    return min(formula.max_points, formula.max_points * rate / formula.threshold)


def score(formula: Formula, figures: Figures) -> dict:
    """One line of the scorecard: the figures, the rate, the points and the points lost (None when the data
    was never recorded: the indicator is then named in `missing_data`, not scored)."""
    line = {
        "id": formula.indicator,
        "group": formula.group,
        "name": formula.name,
        "formula": formula.formula,
        "numerator": figures.numerator,
        "denominator": figures.denominator,
        "rate": None,
        "threshold": formula.threshold,
        "points": None,
        "max_points": formula.max_points,
        "points_lost": None,
    }
    if not figures.recorded:
        return line
    rate = rate_of(figures)
    earned = round(points(formula, rate), 4)
    line.update(rate=None if rate is None else round(rate, 6), points=earned,
                points_lost=round(formula.max_points - earned, 4))
    return line


def check_formulas(formulas: Sequence[Formula]) -> None:
    """The split must add up to 100, each indicator once, with the parameters its rule reads."""
    ids = [f.indicator for f in formulas]
    if len(ids) != len(set(ids)):
        raise ValueError(f"an indicator is listed twice in the formulas: {ids}")
    total = sum(f.max_points for f in formulas)
    if abs(total - MAX_POINTS) > 1e-9:
        raise ValueError(f"the indicators' points add up to {total:g}, not {MAX_POINTS:g}")
    for f in formulas:
        if f.group not in GROUPS:
            raise ValueError(f"indicator {f.indicator}: unknown group {f.group!r}; groups: {', '.join(GROUPS)}")
        if f.when_empty not in ("full", "none"):
            raise ValueError(f"indicator {f.indicator}: when_empty is full or none, not {f.when_empty!r}")
        if f.threshold is not None and not 0 < f.threshold <= 1:
            raise ValueError(f"indicator {f.indicator}: a threshold is a share in (0, 1]")
        for key in REQUIRED_PARAMETERS.get(f.indicator, ()):
            f.parameter(key)


# --- procedure-level rules (1.1, 1.2, 1.3) ----------------------------------------------------------

AUTHORITIES = ("province", "ministry")
"""Who publishes the procedures (index766.md): 1.1's and 1.2's working days differ by it; each is a parameter of
the formula (the formulas file: `province=5;ministry=20`)."""
REQUIRED_PARAMETERS = {"1.1": AUTHORITIES, "1.2": AUTHORITIES}

CONTENT_PARTS = ("name", "online_level", "components", "processing_time", "level", "fees", "legal_basis")
"""1.3 v1: the parts of a procedure the catalogue holds (forms and requirements are not recorded)."""
