"""The pure core: policy, per-vendor state, scoring, alert rules and the processor.

Plain functions of (state, event or time, policy): no I/O, no wall clock, no Kafka, Faust, HTTP
or logging. The live worker, replay and the offline `score` command all run this code, so they
compute the same numbers. An import contract in pyproject.toml holds the purity.
"""
