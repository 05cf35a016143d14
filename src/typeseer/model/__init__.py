"""The learned model: features, training data, training (PyTorch) and runtime (NumPy)."""
