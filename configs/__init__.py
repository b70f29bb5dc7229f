"""Shipped YAML configs (taxonomies, synthetic scenarios, training configs)."""
