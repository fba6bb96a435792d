"""Kafka without Faust: topic names, partitioning, the history reader, the outbox, dead-letter
records, ingest, and the workarounds for the embedded broker's deviations (`compat`)."""
