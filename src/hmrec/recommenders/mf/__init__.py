"""The matrix factorisation baseline: weighted implicit feedback, a PyTorch model, its loop."""
