"""The data layer: ingest and validation, the synthetic shop, the time split."""
