"""Workflows: the only code that runs a whole experiment (search, OFAT, reseed, refit,
resume)."""
