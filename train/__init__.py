"""Training through Lightning from YAML configs (torch world)."""
