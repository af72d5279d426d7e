"""The prepared cache: ``prepare`` and ``merge``, its shards, FMA's metadata, and the
corpus that training reads."""
