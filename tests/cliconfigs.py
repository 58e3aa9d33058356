"""Every tool's configuration dataclass: (module, class), for the tests of their options and docs."""

CONFIGS = [("training.config", "TrainConfig"), ("export.__main__", "ExportConfig"), ("export.importer", "ImportConfig"),
           ("robustcifar.serving.config", "ServeConfig"), ("benchmark.config", "BenchmarkConfig"),
           ("benchmark.load.serving_throughput", "ThroughputConfig"), ("benchmark.load.soak", "SoakConfig"),
           ("benchmark.load.overload", "OverloadConfig"), ("benchmark.load.onnx_baseline", "BaselineConfig"),
           ("benchmark.load.protocol_speed", "ProtocolSpeedConfig"), ("benchmark.load.peer_compare", "PeerConfig"),
           ("robustcifar.corruptions.speed", "SpeedConfig"), ("robustcifar.corruptions.cifar10c_folder", "Cifar10cConfig"),
           ("training.speed", "SpeedConfig"), ("serve.foreground", "ForegroundConfig"),
           ("benchmark.report.__main__", "ReportConfig"), ("benchmark.study.__main__", "CollectConfig"),
           ("benchmark.study.__main__", "ReportConfig"), ("export.foreign_example", "ForeignExampleConfig"),
           ("serve.healthcheck", "HealthcheckConfig")]
