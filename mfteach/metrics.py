"""Accuracy and ranking metrics."""
