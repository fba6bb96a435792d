"""How events are processed: the pure core, Kafka I/O, the embedded broker, the live worker,
replay and the command line; process-wide settings and logging sit at this level."""
