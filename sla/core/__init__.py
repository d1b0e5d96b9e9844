"""The pure SLA core: working-time calendar, clock replay, outcomes and rate formulas."""
