"""Results: an experiment folder read into tables (trials ranked once, OFAT, reseed,
comparison). Reads only; the report layer writes."""
