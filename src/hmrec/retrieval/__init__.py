"""Retrieval: candidate sources that maximise recall, and their union."""
