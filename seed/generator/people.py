"""Applicants: Vietnamese names, citizen identity numbers, phones and addresses, drawn in bulk."""

import numpy as np

from procedures.service import fold

FAMILY = (
    ("Nguyễn", 38.0), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.0), ("Hoàng", 4.0), ("Huỳnh", 1.0),
    ("Phan", 4.5), ("Vũ", 3.5), ("Võ", 0.5), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3),
    ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Đào", 0.6), ("Đinh", 0.6), ("Trịnh", 0.5),
    ("Mai", 0.4), ("Tạ", 0.3), ("Lương", 0.3), ("Chu", 0.3), ("Kiều", 0.2),
)  # fmt: skip
MIDDLE = (
    ("Văn", "Thị"), ("Đức", "Ngọc"), ("Minh", "Thu"), ("Quang", "Thanh"), ("Hữu", "Minh"),
    ("Thành", "Phương"), ("Xuân", "Hồng"), ("Tiến", "Kim"), ("Mạnh", "Thùy"), ("Công", "Bích"),
)  # fmt: skip
GIVEN = (
    ("Anh", "Lan"), ("Hùng", "Hương"), ("Dũng", "Linh"), ("Tuấn", "Trang"), ("Minh", "Mai"),
    ("Nam", "Hà"), ("Hải", "Ngọc"), ("Sơn", "Thảo"), ("Long", "Huyền"), ("Cường", "Phương"),
    ("Thắng", "Hằng"), ("Phong", "Yến"), ("Quân", "Nhung"), ("Đức", "Thủy"), ("Hoàng", "Anh"),
    ("Khoa", "Hạnh"), ("Việt", "Dung"), ("Trung", "Vân"), ("Hiếu", "Nga"), ("Thành", "Loan"),
    ("Bình", "Quỳnh"), ("Huy", "Giang"), ("Kiên", "Châu"), ("Lâm", "Oanh"), ("Tùng", "Tâm"),
)  # fmt: skip
STREETS = (
    "phố Hàng Bạc", "phố Huế", "đường Láng", "phố Kim Mã", "đường Giải Phóng", "phố Bạch Mai", "đường Cầu Giấy",
    "phố Đội Cấn", "đường Trường Chinh", "phố Tôn Đức Thắng", "đường Nguyễn Trãi", "phố Xã Đàn",
    "đường Cổ Loa", "đường Núi Đôi", "thôn Đoài", "thôn Đông",
)  # fmt: skip
PHONE_PREFIXES = (
    "090", "091", "093", "094", "096", "097", "098", "032", "033", "034", "035", "036",
    "037", "038", "039", "070", "076", "077", "078", "079", "081", "083", "085", "088",
)  # fmt: skip


class People:
    """Name parts with their folded (search) forms, so that `search_text` is built without folding each row."""

    def __init__(self) -> None:
        weights = np.asarray([w for _, w in FAMILY])
        self.family_p = weights / weights.sum()
        self.family = [n for n, _ in FAMILY]
        self.middle = [list(pair) for pair in MIDDLE]
        self.given = [list(pair) for pair in GIVEN]

    def draw(self, rng: np.random.Generator, n: int, agency_names: list[str]) -> dict[str, list]:
        """``agency_names[i]``: the receiving agency's name of row i, used in the address."""
        family = rng.choice(len(self.family), size=n, p=self.family_p)
        female = rng.random(n) < 0.52
        middle = rng.integers(0, len(self.middle), n)
        given = rng.integers(0, len(self.given), n)
        sex = female.astype(np.int64)
        birth_year = rng.integers(1945, 2007, n)
        century_sex = np.where(birth_year >= 2000, 2, 0) + sex
        id_tail = rng.integers(0, 1_000_000, n)
        has_id = rng.random(n) < 0.97
        prefix = rng.integers(0, len(PHONE_PREFIXES), n)
        phone_tail = rng.integers(0, 10_000_000, n)
        has_phone = rng.random(n) < 0.9
        house = rng.integers(1, 300, n)
        street = rng.integers(0, len(STREETS), n)
        has_address = rng.random(n) < 0.8

        names, ids, phones, addresses = [], [], [], []
        for i, (f, s, m, g, y, c, t, hi, p, pt, hp, h, st, ha) in enumerate(
            zip(
                family.tolist(), sex.tolist(), middle.tolist(), given.tolist(), (birth_year % 100).tolist(),
                century_sex.tolist(), id_tail.tolist(), has_id.tolist(), prefix.tolist(), phone_tail.tolist(),
                has_phone.tolist(), house.tolist(), street.tolist(), has_address.tolist(), strict=True,
            )
        ):  # fmt: skip
            names.append(f"{self.family[f]} {self.middle[m][s]} {self.given[g][s]}")
            ids.append(f"001{c}{y:02d}{t:06d}" if hi else None)
            phones.append(f"{PHONE_PREFIXES[p]}{pt:07d}" if hp else None)
            addresses.append(f"Số {h}, {STREETS[st]}, {agency_names[i]}, Hà Nội" if ha else None)
        return {"name": names, "id_number": ids, "phone": phones, "address": addresses}


def search_texts(codes: list[str], names: list[str], phones: list, ids: list) -> list[str]:
    """`dossiers.intake.receive`'s search text: fold(code, name, phone, id number)."""
    cache: dict[str, str] = {}

    def folded(name: str) -> str:
        value = cache.get(name)
        if value is None:
            value = cache[name] = fold(name)
        return value

    return [
        " ".join(filter(None, (code.lower(), folded(name), phone, id_number)))[:400]
        for code, name, phone, id_number in zip(codes, names, phones, ids, strict=True)
    ]
