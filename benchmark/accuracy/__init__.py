"""Accuracy of served models on clean and corrupted CIFAR-10 through HTTP, and its statistics."""
