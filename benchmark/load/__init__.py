"""Load on a live server: the load generators, Locust, the onnxruntime baseline, throughput, soak and overload."""
