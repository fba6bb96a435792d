"""Precision and recall of the feeds extractor on the five seed articles (the README's figures).

    .venv/bin/python benchmarks/feeds_extract_bench.py [--json]

Reads tests/feeds/fixtures/seeds/ (the articles, their metadata sidecars, the registry
vendors.jsonl and the hand-labelled gold.yaml) with the default policy, runs the extractor,
and prints the candidates that match no gold fact and the facts no candidate matches.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from vendorwatch.feeds.documents import read_file
from vendorwatch.feeds.extract import extract
from vendorwatch.feeds.gazetteer import Gazetteer, read_registry
from vendorwatch.feeds.gold import Score, load_gold, score
from vendorwatch.streams.core.policy import load_policy

SEEDS = Path(__file__).resolve().parent.parent / "tests" / "feeds" / "fixtures" / "seeds"


def run(seeds: Path = SEEDS) -> tuple[Score, float]:
    """Score the extractor on the seeds; also the seconds it took."""
    gazetteer = Gazetteer(load_policy(), read_registry(seeds / "vendors.jsonl"))
    gold = load_gold(seeds / "gold.yaml")
    started = time.perf_counter()
    found = {path.name: extract(read_file(path), gazetteer) for path in sorted(seeds.glob("*.txt"))}
    return score(gold, found), time.perf_counter() - started


def main() -> None:
    result, seconds = run()
    if "--json" in sys.argv:
        print(json.dumps({"precision": round(result.precision, 3),
                          "recall": round(result.recall, 3), "candidates": result.candidates,
                          "facts": result.facts, "seconds": round(seconds, 3)}))  # fmt: skip
        return
    for document, c in result.unmatched_candidates:
        print(f"no gold fact:  {document} {c.type} {c.subject} {c.data}")
    for fact in result.missed_facts:
        print(f"missed:        {fact.document} {'|'.join(fact.types)} {fact.subject} {fact.match}")
    print(
        f"seeds: {result.candidates} candidates, {result.facts} gold facts, "
        f"{result.true_positives} correct: precision {result.precision:.2f}, "
        f"recall {result.recall:.2f} ({seconds:.2f} s)"
    )


if __name__ == "__main__":
    main()
