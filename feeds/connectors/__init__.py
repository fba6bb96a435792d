"""Connectors: where documents come from, each with a cursor so nothing is read twice."""
