"""The national exchange: the dossier record to and from the national portal (docs/exchange.md)."""
