"""The synthetic city's realism parameters: volumes, channels, timing, delays and their shares.

Illustrative figures chosen to look like a Vietnamese city's one-stop desks (domain.md §1–§5), not
measured ones. Volumes are relative weights; shares are probabilities per dossier.
"""

from dataclasses import dataclass

# --- volumes -------------------------------------------------------------------------------------

PROCEDURE_WEIGHTS: dict[str, float] = {
    # certification (chứng thực): copies certified from originals dominate every commune desk
    "2.000815": 30.0, "2.000884": 6.0, "2.000908": 1.0, "2.000992": 0.4, "2.001008": 0.4,
    "2.001035": 2.0, "2.001019": 0.3, "2.001016": 0.2, "2.001406": 0.3, "2.000913": 0.5, "2.000942": 0.5,
    # residence (cư trú)
    "1.004194": 8.0, "1.004222": 5.0, "1.010038": 1.0, "HN-cu_tru-1": 1.0,
    # civil status (hộ tịch)
    "1.001193": 4.0, "1.000894": 2.0, "1.000656": 1.5, "1.004873": 3.0, "1.001022": 0.2, "1.004859": 0.6,
    "1.004837": 0.1, "2.000806": 0.15, "2.000779": 0.05, "2.002189": 0.05, "2.000554": 0.05, "1.001766": 0.02,
    # interconnected chains (liên thông)
    "2.000986": 3.0, "HN-lien_thong_ho_tich_cu_tru_xa_hoi-1": 0.4, "HN-lien_thong_ho_tich_cu_tru_xa_hoi-2": 0.1,
    "HN-lien_thong_ho_tich_cu_tru_xa_hoi-3": 0.3, "HN-lien_thong_kinh_doanh_van_hoa-1": 0.03,
    # land (đất đai) and construction (xây dựng)
    "HN-dat_dai-1": 1.5, "HN-dat_dai-2": 4.0, "HN-dat_dai-3": 2.0, "HN-dat_dai-4": 1.0, "HN-dat_dai-5": 0.5,
    "HN-dat_dai-6": 0.2, "1.012790": 0.3, "HN-dat_dai-7": 0.1,
    "HN-xay_dung-1": 1.5, "1.013225": 0.2, "1.013226": 0.1, "1.013236": 0.05,
    # department desks
    "HN-giao_thong_gplx-1": 2.0, "HN-giao_thong_gplx-2": 3.0, "HN-giao_thong_gplx-3": 0.5,
    "HN-ly_lich_tu_phap-1": 2.0, "HN-dang_ky_kinh_doanh-1": 1.0,
    "HN-lao_dong_viec_lam-1": 0.3, "HN-lao_dong_viec_lam-2": 0.1,
    "3.000467": 0.8, "3.000465": 0.2,
    "1.014027": 0.3, "1.001699": 0.2, "1.001653": 0.2, "2.001088": 0.3,
    "1.001662": 0.05, "1.004223": 0.02, "1.004122": 0.02, "1.013644": 0.02,
}  # fmt: skip
"""Relative yearly volume per procedure code; codes not listed get DEFAULT_WEIGHT by level."""

DEFAULT_WEIGHT = {"commune": 0.2, "district": 0.2, "department": 0.05, "province": 0.02}


@dataclass(frozen=True)
class FieldProfile:
    late: float  # share of dossiers finished after their due (a chain splits it over its stages)
    supplement: float  # share of received dossiers with a supplement request
    pause: float  # share waiting for a financial obligation (status 6)


FIELD_PROFILES: dict[str, FieldProfile] = {
    "chung_thuc": FieldProfile(late=0.01, supplement=0.01, pause=0.0),
    "ho_tich": FieldProfile(late=0.025, supplement=0.04, pause=0.0),
    "cu_tru": FieldProfile(late=0.04, supplement=0.08, pause=0.0),
    "dat_dai": FieldProfile(late=0.20, supplement=0.20, pause=0.35),  # its chains share it over 4 stages
    "xay_dung": FieldProfile(late=0.13, supplement=0.25, pause=0.25),
    "tai_nguyen_nuoc": FieldProfile(late=0.10, supplement=0.20, pause=0.20),
    "giao_thong_gplx": FieldProfile(late=0.03, supplement=0.03, pause=0.0),
}
FIELD_PREFIX_PROFILES = {"lien_thong": FieldProfile(late=0.04, supplement=0.04, pause=0.0)}
DEFAULT_PROFILE = FieldProfile(late=0.06, supplement=0.10, pause=0.0)
DEPARTMENT_EXTRA_LATE = 0.02  # department and province desks are a little later
FEE_PAUSE = 0.05  # procedures with a fee, outside the fields above

# --- channels ------------------------------------------------------------------------------------

ONLINE_SHARE = {"full": 0.55, "partial": 0.25, "none": 0.0, None: 0.12}
POST_SHARE = {"commune": 0.01, "district": 0.01, "department": 0.04, "province": 0.04}

# --- arrivals ------------------------------------------------------------------------------------

MONTH_FACTOR = (1.0, 0.9, 1.05, 1.0, 1.0, 0.95, 1.05, 1.05, 0.95, 1.0, 1.0, 1.1)
WEEKDAY_FACTOR = (1.15, 1.05, 1.0, 1.0, 0.9, 0.6, 0.6)  # Mon..Sun; Saturday/Sunday only as make-up days
ONLINE_DAY_OFF_FACTOR = 0.3  # online submissions on weekends and holidays, relative to a working day
PRE_TET_FACTOR, PRE_TET_DAYS = 1.25, 14  # the rush before Tết
POST_TET_LOW, POST_TET_DAYS = 0.5, 21  # after Tết volumes climb back from half over three weeks
ONLINE_HOURS = (0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 0.8, 1.5, 2.5, 3.0, 3.0, 2.5,
                1.5, 2.0, 2.5, 2.5, 2.0, 1.5, 1.2, 1.5, 1.8, 1.6, 1.0, 0.6)  # fmt: skip
"""Relative online submissions per local hour of day."""
COUNTER_MINUTE_BETA = (1.4, 1.6)  # position in the working day of a desk receipt: mornings busier
ONLINE_RECEIPT_MINUTES = 180  # mean working minutes before a desk receives an online submission

# --- intake --------------------------------------------------------------------------------------

REFUSED_AT_COUNTER = 0.015  # refused at intake (status 3)
REFUSED_ONLINE = 0.06  # online submissions refused by the desk

# --- processing ----------------------------------------------------------------------------------

SECOND_SUPPLEMENT = 0.15  # of dossiers whose first supplement was answered
SUPPLEMENT_ABANDONED = 0.08  # no answer within 15 working days: closed (abandoned)
SUPPLEMENT_WITHDRAWN = 0.06  # the applicant withdraws while asked for a supplement
SUPPLEMENT_WAIT_DAYS = (1.0, 0.8)  # lognormal (median 1 + e^mu working days, sigma) of the answer
ABANDON_AFTER_DAYS = 15
PAUSE_DAYS = (1.5, 0.7)  # lognormal working days waiting for the financial obligation
EXCLUDED_STEP_DAYS = (1.2, 0.6)  # lognormal working days of an excluded step (the tax office)
WITHDRAWN = 0.012  # withdrawn at the applicant's request while processing (status 7)
STOPPED = 0.003  # stopped by the agency (status 8)
APOLOGY = 0.25  # of dossiers whose last stage will be late, when there is a working day left
APOLOGY_DAYS = (1, 10)  # working days the new appointment adds to the due
STUCK = 0.006  # dossiers forgotten in a queue: late by 20–80 working days
LATE_DAYS = (0.0, 0.9)  # lognormal working days past the due of a late stage (at least one)
WORK_BETA = (2.2, 1.6)  # share of the time left to its due that an on-time stage uses
NOT_RETURNED = 0.04  # results never collected (status stays 9)
HAND_BACK_DAYS = 0.5  # mean working days for a result resolved away to reach the receiving desk
RETURN_DAYS = {"counter": 3.0, "post": 2.0, "online": 0.5}  # mean working days to collect the result


# --- Decision 766 facts (index766.md): shares rising linearly from January to December ----------------
# (start of the year, end of the year); t = the day of the year ÷ its length


@dataclass(frozen=True)
class Rising:
    start: float
    end: float

    def at(self, t):
        return self.start + (self.end - self.start) * t


ELECTRONIC_RESULT = {"online": Rising(0.45, 0.85), "counter": Rising(0.15, 0.55), "post": Rising(0.1, 0.4)}
"""Resolved dossiers with an electronic result file attached."""
DIGITISED = {"online": Rising(0.9, 0.98), "counter": Rising(0.35, 0.85), "post": Rising(0.2, 0.6)}
"""Dossiers whose received components were all digitised."""
REUSED = Rising(0.05, 0.25)  # a component reused from an earlier digitised result
CITIZEN_STORE = {"online": Rising(0.1, 0.35), "counter": Rising(0.01, 0.05), "post": Rising(0.0, 0.02)}
NATIONAL_DB = Rising(0.3, 0.6)
VNEID_VERIFIED = Rising(0.55, 0.9)  # online accounts verified with VNeID
POPULATION_REF = {"online": Rising(0.8, 0.97), "counter": Rising(0.4, 0.8), "post": Rising(0.2, 0.5)}
PAID_ONLINE = {"online": Rising(0.6, 0.85), "counter": Rising(0.05, 0.2), "post": Rising(0.0, 0.1)}
"""Fee dossiers paid through the national platform or the provincial gateway (QR at the desk for counters)."""
RESULT_KIND_DEFAULT = "paper"
"""Where a catalogue does not say what a version's result is (the seed catalogue says it for every procedure), the
generator takes the common case."""

# --- the rows behind the facts: components received and fee lines (facts.py) ---------------------------

OPTIONAL_COMPONENT = 0.3
"""An optional component of a version's list (e.g. a power of attorney) handed in; the required ones always are."""
PARTLY_DIGITISED = 0.4
"""In a dossier not wholly digitised, each component but one (the paper one) digitised."""
DVCQG_SHARE = {"online": 0.7, "counter": 0.35, "post": 0.5}
"""Of the fees paid online: through the national platform (dvcqg); the others through the provincial gateway."""
BANK_SHARE = 0.15
"""Of the fees not paid online: by bank transfer; the others in cash at the desk."""
PAYMENT_MINUTES = (1, 30)
"""A fee is paid this many minutes (uniform) after the submission or the receipt."""
FEE_LINE_NAME = "Lệ phí"
"""The name of the fee line of a version whose catalogue entry gives an amount but no fee lines."""
