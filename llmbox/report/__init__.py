"""Renderers and exporters. Exporters are pure functions; only ``terminal`` knows about rich."""
