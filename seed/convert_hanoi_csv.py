"""Rebuild `seed/data/procedures.csv` from the reference list `shared/data/procedures_hanoi.csv`.

The reference gives codes, statutory times, cut-offs, step splits, sources and confidence. What it
does not give, and what this script adds (and says so in each row's `source`): the responsible
city department of department- and province-level procedures, the agency or role of each step,
parallel groups of the e-chains, local codes for the rows that have no national code, and an
effective-from date of 01/01/2024, so that demo and synthetic histories from 2024 on find a
version in force (a real catalogue gives the date of the text that set the time).

The Decision 766 facts of each version (result kind, fee lines, publication decision and date, legal
basis and its effective date, date made public) come from `seed/data/procedure_facts.csv`, joined by
code; its `source` column, appended to the row's, says which facts a stored text gave and which are
illustrative. A row without facts there gets none (not recorded).

    python -m seed.convert_hanoi_csv ../shared/data/procedures_hanoi.csv seed/data/procedures.csv
"""

import csv
import re
import sys
from collections import Counter
from pathlib import Path

from procedures.catalogue_io import COLUMNS

EFFECTIVE_FROM = "2024-01-01"
FACTS = Path(__file__).resolve().parent / "data" / "procedure_facts.csv"
FACT_COLUMNS = (
    "result_kind",
    "fee_lines",
    "decision_number",
    "decision_date",
    "legal_basis",
    "legal_basis_effective_date",
    "published_on",
)

FIELD_NAMES = {
    "tin_nguong_ton_giao": "Tín ngưỡng, tôn giáo",
    "du_lich": "Du lịch",
    "dau_thau": "Đấu thầu",
    "ho_tich": "Hộ tịch",
    "lien_thong_ho_tich_cu_tru_bhyt": "Liên thông khai sinh – thường trú – thẻ BHYT",
    "lien_thong_ho_tich_cu_tru_xa_hoi": "Liên thông khai tử – xóa thường trú – trợ cấp",
    "lien_thong_kinh_doanh_van_hoa": "Liên thông hộ kinh doanh – an ninh trật tự – karaoke",
    "chung_thuc": "Chứng thực",
    "cu_tru": "Cư trú",
    "ly_lich_tu_phap": "Lý lịch tư pháp",
    "dang_ky_kinh_doanh": "Đăng ký kinh doanh",
    "xay_dung": "Cấp phép xây dựng",
    "dat_dai": "Đất đai",
    "tai_nguyen_nuoc": "Tài nguyên nước",
    "de_dieu_thuy_loi": "Đê điều, thủy lợi",
    "bao_tro_xa_hoi": "Bảo trợ xã hội",
    "chinh_sach_nguoi_co_cong": "Người có công",
    "lao_dong_viec_lam": "Lao động, việc làm",
    "y_te_thiet_bi": "Trang thiết bị y tế",
    "y_te_dan_so": "Dân số",
    "giao_duc_van_bang": "Văn bằng, chứng chỉ",
    "giao_thong_gplx": "Giấy phép lái xe",
    "khoa_hoc_cong_nghe": "Khoa học và công nghệ",
}

# The city department answering for department- and province-level procedures of a field (2025 structure).
FIELD_DEPARTMENT = {
    "tin_nguong_ton_giao": "000.00.03.H26",
    "du_lich": "000.00.04.H26",
    "dau_thau": "000.00.06.H26",
    "xay_dung": "000.00.04.H26",
    "dat_dai": "000.00.08.H26",
    "tai_nguyen_nuoc": "000.00.07.H26",
    "de_dieu_thuy_loi": "000.00.07.H26",
    "bao_tro_xa_hoi": "000.00.13.H26",
    "chinh_sach_nguoi_co_cong": "000.00.11.H26",
    "lao_dong_viec_lam": "000.00.11.H26",
    "y_te_thiet_bi": "000.00.13.H26",
    "giao_duc_van_bang": "000.00.12.H26",
    "giao_thong_gplx": "000.00.10.H26",
    "ly_lich_tu_phap": "000.00.10.H26",
    "khoa_hoc_cong_nghe": "000.00.14.H26",
}

# Step agencies of the reference, by the start of their text: an agency code or an @role.
STEP_AGENCY = (
    ("Sở Dân tộc và Tôn giáo", "000.00.03.H26"),
    ("Văn phòng UBND Thành phố", "000.00.01.H26"),
    ("UBND cấp xã (GP kinh doanh karaoke)", "@commune"),
    ("UBND cấp xã", "@receiving"),
    ("Cơ quan đăng ký kinh doanh cấp xã", "@receiving"),
    ("Công an cấp xã", "@commune_police"),
    ("Bảo hiểm xã hội", "000.00.15.H26"),
    ("Cơ quan LĐTBXH (mai táng, tuất người có công)", "000.00.11.H26"),
    ("Cơ quan LĐTBXH", "@commune_social"),
    ("TTPVHCC/Chi nhánh VPĐKĐĐ", "@receiving"),
    ("VPĐKĐĐ", "000.00.08.H26"),
    ("Cơ quan Thuế", "000.00.16.H26"),
)
PARALLEL_FIELDS = {"lien_thong_ho_tich_cu_tru_bhyt", "lien_thong_ho_tich_cu_tru_xa_hoi"}
CUTOFF_ONE_HOUR_BEFORE_CLOSE = "16:00"


def step_agency(text: str) -> str:
    for prefix, ref in STEP_AGENCY:
        if text.startswith(prefix):
            return ref
    raise ValueError(f"no agency mapping for step {text!r}")


def convert_steps(steps: str, field: str) -> str:
    converted = []
    for seq, item in enumerate(filter(None, steps.split(";")), start=1):
        text, amount = item.rsplit(":", 1)
        group = "|after_registration" if field in PARALLEL_FIELDS and seq > 1 else ""
        converted.append(f"{text.replace('=', '-')}={step_agency(text)}:{amount}{group}")
    return ";".join(converted)


def read_facts(path: Path = FACTS) -> dict[str, dict]:
    """The Decision 766 facts of the seed's versions by code (seed/data/procedure_facts.csv)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["code"]: row for row in csv.DictReader(handle)}


def convert(rows: list[dict], facts: dict[str, dict] | None = None) -> list[dict]:
    facts = {} if facts is None else facts
    local_numbers: Counter[str] = Counter()
    out = []
    for row in rows:
        field = row["field"]
        code = row["code"]
        notes = ["effective_from, agency and step agencies: motcua seed mapping (illustrative)"]
        if not code:
            local_numbers[field] += 1
            code = f"HN-{field}-{local_numbers[field]}"
            notes.append("local code: no national code in the sources")
        cutoff = row["same_day_cutoff"]
        if cutoff and not re.fullmatch(r"\d\d:\d\d", cutoff):
            notes.append(f"cut-off '{cutoff}' read as {CUTOFF_ONE_HOUR_BEFORE_CLOSE}")
            cutoff = CUTOFF_ONE_HOUR_BEFORE_CLOSE
        known = facts.get(code, {})
        sources = [row["source"], "; ".join(notes), known.get("source")]
        out.append(
            {
                **{column: known.get(column, "") for column in FACT_COLUMNS},
                "code": code,
                "name": row["name_vi"],
                "name_en": row["name_en"],
                "field_code": field,
                "field_name": FIELD_NAMES[field],
                "level": row["level"],
                "agency_code": FIELD_DEPARTMENT.get(field) if row["level"] != "commune" else "",
                "amount": row["amount"],
                "unit": row["unit"],
                "same_day_cutoff": cutoff,
                "supplement_policy": "restart",
                "online_level": row["online_level"],
                "fee": row["fee_vnd"],
                "steps": convert_steps(row["steps"], field),
                "effective_from": EFFECTIVE_FROM,
                "effective_to": "",
                "confidence": row["confidence"],
                "source": " | ".join(filter(None, sources)),
            }
        )
    return out


def main(source: str, target: str) -> None:
    with open(source, newline="", encoding="utf-8") as handle:
        rows = convert(list(csv.DictReader(handle)), read_facts())
    with open(Path(target), "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} procedures written to {target}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
