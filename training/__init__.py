"""Training of the four ResNet-18 models on CIFAR-10 (run with `python -m training`)."""
