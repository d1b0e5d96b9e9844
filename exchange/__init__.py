"""The national exchange: the dossier record to and from the national portal (docs/exchange.md)."""

from exchange.status import sync_figures, synced_condition
from sla import scorecard

scorecard.register_figures("sync", sync_figures)  # indicator 1.4 (and 3.3's sync rate) from the sync's record
scorecard.register_synced(synced_condition)  # 1.4's drill-down: the received dossiers not synced
