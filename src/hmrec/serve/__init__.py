"""The HTTP API and explorer page over saved artifacts, and the files they read."""
