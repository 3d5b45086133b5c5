"""Botschaft's built-in plugins; each registers through the `botschaft.plugins` entry points."""
