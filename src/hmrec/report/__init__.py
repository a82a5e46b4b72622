"""The HTML evaluation report."""
