"""Migrations of the consent table (bots/consent.py)."""
