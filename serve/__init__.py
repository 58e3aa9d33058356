"""Serving with TorchServe: the custom handler, model archives, and the server's lifecycle."""
