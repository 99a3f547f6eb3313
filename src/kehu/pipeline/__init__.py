"""Sales pipeline: deals, pipelines and stages, quotes, contracts, payments, targets and forecast."""
