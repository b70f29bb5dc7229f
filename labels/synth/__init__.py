"""Synthetic satellite scenes with exact ground truth (no torch)."""
