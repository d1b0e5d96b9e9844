"""JSON rows of a frame (queues, reports): instants in local time, missing ones null, other values as they are."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from api.exports import records


def test_records_give_local_instants_and_nulls_column_by_column():
    frame = pd.DataFrame(
        {
            "code": ["A", "B"],
            "status_code": [2, 4],
            "due_at": [datetime(2025, 6, 11, 2, tzinfo=UTC), None],  # a column of instants with a gap (NaT)
            "received_at": [datetime(2025, 6, 2, 2, 0, 0, 7, tzinfo=UTC), datetime(2025, 6, 2, 17, tzinfo=UTC)],
            "current_stage": [None, "Thẩm định"],
            "working_days_left": np.array([1.5, -0.25]),
        }
    )
    assert records(frame) == [
        {
            "code": "A",
            "status_code": 2,
            "due_at": "2025-06-11T09:00:00+07:00",
            "received_at": "2025-06-02T09:00:00.000007+07:00",
            "current_stage": None,
            "working_days_left": 1.5,
        },
        {
            "code": "B",
            "status_code": 4,
            "due_at": None,
            "received_at": "2025-06-03T00:00:00+07:00",
            "current_stage": "Thẩm định",
            "working_days_left": -0.25,
        },
    ]
    assert all(type(row["status_code"]) is int for row in records(frame))
    assert records(pd.DataFrame(columns=["code", "due_at"])) == []
