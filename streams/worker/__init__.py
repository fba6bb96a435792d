"""The live worker: the Faust app (wiring only), the score and notify steps, the replicated read
view, the HTTP API, health and Prometheus metrics."""
