from kernel.db import (  # noqa: F401  # shim: moved to kernel
    StampRow,
    UTCDateTime,
    analyze,
    new_stamp,
    utc_now,
)
