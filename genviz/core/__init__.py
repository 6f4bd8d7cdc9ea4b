"""Headless core: models, data, training sessions. Never imports Qt."""
