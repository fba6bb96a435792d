"""Feeds: news articles, RSS/Atom feeds, SEC filings and breach lists turned into *candidate*
events that an analyst reviews before anything is scored (docs/architecture.md, "Feeds").

Beside `schemas/` (what an event is), `streams/` (how events are processed) and `alerts/` (what
goes out), `feeds/` is where events come from. It depends on the event contract and on the pure
core of streams (the policy and its organisation-name resolver), never on Faust or Kafka: a
candidate becomes an event through the ordinary ingest path once it is accepted.
"""
