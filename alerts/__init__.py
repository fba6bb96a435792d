"""What goes out: notifications built from alert transitions, grouping and repeats (`notifier`),
silences, delivery with retries and idempotency, the ledger, secret redaction, and the sinks.
No Faust: the worker's notify step drives this package."""
