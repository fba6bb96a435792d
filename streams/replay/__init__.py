"""The history read back: the bounded reader, replay through the live processor, reports
(point-in-time, backtest, timeline), export and rebuild, and reading event files offline."""
