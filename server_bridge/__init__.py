"""Bridges to other networks (the opt-in WhatsApp gateway); they depend on `bots`, never the reverse."""
