"""Inspection of trained models: intermediate quantities for analysis and plots."""
