"""Renderers: samples in, text out. Each owns its escaping and number formatting."""
