from kernel.spreadsheets import (  # noqa: F401  # shim: moved to kernel
    FORMULA_TRIGGERS,
    QUOTE,
    csv_bytes,
    csv_frame,
    csv_restore,
    csv_value,
    formula_like,
    put,
    write_cell,
    xlsx_table,
)
