"""Data: the demo corpus, reading and labelling, seeded splits and folds, tokenizing once
with a content-keyed cache."""
