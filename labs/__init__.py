"""Experiment recipes that reproduce the reports' comparisons at a scale a laptop can run."""
