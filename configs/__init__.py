"""Shipped configs and simulation scenarios (YAML data; installed as package data)."""
