"""The embedded default: the Tansu broker on loopback, its on-disk journal, the proxy that lets
librdkafka 2.0 clients (kcat) talk to it, and the process wiring that picks which Kafka to use."""
