"""What can be wrong with one national record, each problem by a stable id with its params.

The reader (exchange/record.py) and the importer (exchange/history.py) name a record's problem by its field and one
of these ids; the English here is the API's and the command's words (`Problem.message`), and the pages say the same
in the reader's language from the id and params (api/web/exchange_problems.py, tested to cover every id).
"""

from typing import Any

ENGLISH: dict[str, str] = {
    # a line that is no record
    "not_json": "not JSON: {reason}",
    "not_object": "expected a JSON object, got {got}",
    "not_json_list": "expected a JSON list ([...]), got {value!r}: {reason}",
    # one field
    "missing": "missing; it is required",
    "missing_choice": "missing; accepted: {accepted}",
    "missing_date": "missing; a date is written yyyyMMddHHmmss, local time (e.g. 20250602090000)",
    "not_text": "expected text, got {got}",
    "too_long": "longer than {limit} characters",
    "not_one_of": "{value!r} is not one of {accepted}",
    "not_a_list": "expected a list of objects",
    "date_shape": "{value!r} is not a date yyyyMMddHHmmss (14 digits, local time, e.g. 20250602090000)",
    "date_unreal": "{value!r} is not a real date and time (yyyyMMddHHmmss)",
    "version": "{value!r} is not a version this reader knows; accepted: {accepted}",
    "component_unnamed": "names no component: give MaThanhPhanHoSo (its number in the procedure's list) or its name",
    "copies": "{value!r} is not a number of copies (1 to {limit})",
    "component_number": "{value!r} is not a component's number in the procedure's list (1 or more)",
    "too_many_components": "{count} documents; at most {limit}",
    "flag_unknown": "{value!r} is not a flag of this object; accepted: {accepted}",
    "amount": "{value!r} is not an amount in đồng (a whole number from 0 to 10,000,000,000)",
    "too_many_fees": "{count} fee lines; at most {limit}",
    "paid_without_date": "a paid fee line (HinhThucThu {value}) gives NgayThanhToan, when it was paid",
    "date_without_channel": "NgayThanhToan {value} without HinhThucThu (how it was paid: 1–4)",
    "population_ref": "{value!r} is not a population database reference (letters, digits and . _ : / -, at most 64)",
    "electronic_result_unresolved": "an electronic result is recorded for a dossier that was never resolved",
    # the steps and the sequence
    "step_order": "{at} is before the step before it ({previous}); steps are listed in time order",
    "apology_unlisted": "an apology with no entry in DanhSachXinLoi (its new appointment)",
    "apologies_without_step": "{count} apology entries with no step in QuaTrinhXuLy",
    "refusal_date_missing": "missing: a dossier refused at receipt (status 3) needs it",
    "received_date_missing": "missing: a dossier with status {status} was received",
    "resolved_date_missing": "missing: status {status} was resolved",
    "returned_date_missing": "missing: status 10, the result was returned",
    "end_date_missing": "missing: when the dossier ended (status {status})",
    "obligation_steps_missing": "missing: a dossier waiting for a financial obligation (status 6) needs its steps",
    "no_event": "no event: a dossier is at least submitted, received or refused",
    "first_event": "the first event is {event}; a dossier starts submitted, received or refused",
    "impossible_sequence": "impossible sequence: {reason}",
    "handoff_without_agency": "a hand-off names the agency it goes to",
    "step_status": "{value} disagrees with the status {event} leads to ({status})",
    "record_status": "{value} disagrees with the status its steps lead to ({status})",
    "date_disagrees": "{value} disagrees with the {event} step ({found})",
    "date_missing_step": "missing: the steps have {event} at {found}",
    "supplement_count": "lists {listed} supplement requests; the steps have {steps}",
    "supplement_answer_unknown": "{value} is no supplement received step",
    # against our catalogue and our dossiers (the importer's checks)
    "unknown_agency": "unknown agency {code!r}: not among our agencies",
    "unknown_handoff_agency": "a hand-off to an unknown agency {code!r}",
    "unknown_procedure": "unknown procedure {code!r}: not in the catalogue",
    "procedure_not_in_force": "procedure {code!r} has no version in force on {day}",
    "components": "{reason}",
    "already_imported": "{code} is already imported (or given twice in the file): a record is taken in once",
    "given_twice": "{code} is given twice in the file (first on line {line})",
    "replay_failed": "its events cannot be replayed: {reason}",
    "replay_order": "its events cannot be replayed: {reason}",
    "replay_apology": "its events cannot be replayed: {reason}",
    "replay_hand_off": "its events cannot be replayed: {reason}",
    "replay_calendar": "its events cannot be replayed: {reason}",
}
"""Problem id → its English, `str.format`ted with the problem's params."""


def english(message_id: str, params: dict[str, Any]) -> str:
    return ENGLISH[message_id].format(**params)
