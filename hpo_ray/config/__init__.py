"""Configuration: the typed schema, YAML loading and overrides, validation, the metrics a task
defines, and decoding what a trial trains with. The only layer that reads YAML."""
