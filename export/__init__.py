"""Export of trained checkpoints to self-contained ONNX files (run with `python -m export`)."""
