"""The warning and escalation rules page (/notify/rules, administrators): the defaults and every rule, a rule set
and changed through the same function as PUT /api/v1/notify/rules, bad values named in the page's language with
nothing written, deletion, and who may see it."""

import re

from tests.notify.test_notify_pages import as_page, text  # noqa: F401  (the fixture)

WARD = "000.01.01.H26"
API = "/api/v1/notify/rules"


def form(**fields) -> dict:
    levels = fields.pop("levels", [])
    rows = (levels + [("", "", "unit", "manager")] * 3)[:3]
    return {
        "agency_code": "", "procedure_code": "", "warn_percent": "", "warn_working_hours_before": "",
        "apology_reminder": "", "apology_lead_working_hours": "", "supplement_reminder_working_days": "",
        "escalation_mode": "inherit",
        "after_working_days": [r[0] for r in rows], "every_working_days": [r[1] for r in rows],
        "to": [r[2] for r in rows], "role": [r[3] for r in rows], **fields,
    }  # fmt: skip


def test_an_administrator_sets_changes_and_deletes_a_rule(client, as_page):  # noqa: F811
    admin = as_page("admin")
    empty = admin.get("/notify/rules")
    assert empty.status_code == 200 and 'id="no-rules"' in empty.text
    assert "Mặc định của hệ thống" in text(empty) and "75 %" in text(empty)  # the defaults, as notify.rules.DEFAULTS
    saved = admin.post("/notify/rules", data=form(
        agency_code=WARD, warn_percent="60", apology_reminder="no", supplement_reminder_working_days="5",
        escalation_mode="levels", levels=[("1", "2", "unit", "manager"), ("4", "1", "centre", "officer")],
    ))  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == "/notify/rules?done=saved"
    [rule] = client.get(API).json()  # what the JSON route reads: the same rule
    assert rule["agency_code"] == WARD and rule["procedure_code"] is None
    assert (rule["warn_share"], rule["apology_reminder"], rule["supplement_reminder_working_days"]) == (0.6, False, 5)
    assert rule["warn_working_hours_before"] is None and rule["apology_lead_working_hours"] is None  # inherited
    assert [(lv["after_working_days"], lv["to"], lv["role"]) for lv in rule["escalation"]] == [
        (1, "unit", "manager"), (4, "centre", "officer")
    ]
    shown = text(admin.get("/notify/rules?done=saved"))
    assert "Đã lưu quy tắc." in shown and "60 %" in shown
    assert "quá hạn 4 ngày: cấp trên cùng (trung tâm) (chuyên viên), nhắc lại mỗi 1 ngày" in shown
    editing = admin.get(f"/notify/rules?edit={rule['id']}")
    assert 'name="warn_percent" inputmode="decimal" maxlength="16" value="60"' in editing.text
    assert f'<option value="{WARD}" selected>' in editing.text and 'value="levels" selected' in editing.text
    changed = admin.post("/notify/rules", data=form(agency_code=WARD, warn_percent="80", escalation_mode="none"))
    assert changed.status_code == 303
    [rule] = client.get(API).json()  # the same key: replaced, not added
    assert rule["warn_share"] == 0.8 and rule["escalation"] == [] and rule["apology_reminder"] is None
    assert "Không leo thang" in text(admin.get("/notify/rules"))
    gone = admin.post(f"/notify/rules/{rule['id']}/delete")
    assert gone.status_code == 303 and client.get(API).json() == []
    again = admin.post(f"/notify/rules/{rule['id']}/delete")
    assert again.status_code == 404 and "Không có quy tắc này" in text(again)


def test_bad_values_are_named_in_the_pages_language_and_nothing_is_written(client, as_page):  # noqa: F811
    admin = as_page("admin")
    cases = [
        (form(warn_percent="150"),
         "Cảnh báo khi đã dùng (% thời gian của bước): 150 không hợp lệ, cần một số từ 1 đến 99"),
        (form(warn_working_hours_before="abc"), "hoặc trước hạn (giờ làm việc): không phải là số"),
        (form(supplement_reminder_working_days="20"), "Nhắc bổ sung (ngày làm việc chờ): phải nhỏ hơn 15"),
        (form(escalation_mode="levels", levels=[("3", "1", "unit", "manager"), ("1", "1", "centre", "manager")]),
         "Leo thang khi quá hạn: các bậc phải tăng dần"),
        (form(agency_code="000.99.99.H26", warn_percent="50"), "000.99.99.H26"),
    ]  # fmt: skip
    for data, words in cases:
        page = admin.post("/notify/rules", data=data)
        assert page.status_code in (404, 422), words
        assert words in text(page), text(page)[:600]
        assert 'id="rule-form"' in page.text  # the form again, with what was typed
    assert 'id="warn-percent" name="warn_percent" inputmode="decimal" maxlength="16" value="50"' in page.text  # kept
    english = as_page("admin", lang="en").post("/notify/rules?lang=en", data=form(warn_percent="0"))
    assert "Warn at (% of the step's time used): 0 is not valid: a number from 1 to 99" in text(english)
    assert client.get(API).json() == []  # nothing written


def test_only_administrators_see_the_page_and_its_menu_entry(as_page):  # noqa: F811
    assert as_page("manager").get("/notify/rules").status_code == 403
    assert as_page("clerk").post("/notify/rules", data=form(warn_percent="50")).status_code == 403
    admin = as_page("admin").get("/desk")
    assert re.search(r'<a href="/notify/rules"[^>]*>Quy tắc cảnh báo</a>', admin.text)
    assert "/notify/rules" not in as_page("manager").get("/desk").text
