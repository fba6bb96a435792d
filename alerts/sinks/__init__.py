"""Delivery sinks: Slack incoming webhooks (Block Kit), the signed JSON webhook, Alertmanager v2."""
