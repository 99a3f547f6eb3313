"""Integration with other systems: outbound webhooks signed per Standard Webhooks (and, later,
event ingestion with identity stitching)."""
