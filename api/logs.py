"""Logging that never carries personal data: access-log lines lose their query strings."""

import logging

from uvicorn.config import LOGGING_CONFIG


class DropQueryStrings(logging.Filter):
    """Uvicorn's access record carries the path with its query (`?q=<phone>`): keep the path only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            args = list(record.args)
            args[2] = args[2].split("?", 1)[0]
            record.args = tuple(args)
        return True


def uvicorn_log_config() -> dict:
    config = {**LOGGING_CONFIG, "filters": {"drop_query": {"()": "api.logs.DropQueryStrings"}}}
    config["handlers"] = {name: dict(handler) for name, handler in LOGGING_CONFIG["handlers"].items()}
    config["handlers"]["access"]["filters"] = ["drop_query"]
    return config
