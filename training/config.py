"""Training configuration: one dataclass and its size presets (quick and study for CPUs, full for a GPU)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.config import shared_field
from robustcifar.corruptions import BENCHMARK_CORRUPTIONS


@dataclass
class TrainConfig:
    models: str = shared_field("models", help="'all' or comma-separated names of our four models")
    profile: str = "auto"
    # data
    data: str = shared_field("data")
    data_dir: Path | None = shared_field("data_dir")
    artifacts: Path | None = shared_field("artifacts")
    train_fraction: float = field(
        default=1.0, metadata={"help": "class-balanced share of the training set used; the rest validates"}
    )
    max_train_images: int = field(default=0, metadata={"help": "cap on the training split (0: none)"})
    # Training seeds vary what a rerun of the same recipe varies: weight init, batch order,
    # augmentation and corruption draws. The data selection (which images train, validate and are
    # scored) has its own seed, so every training seed sees the same images.
    seed: int = field(default=0, metadata={"help": "training seed of a single run (see --seeds)"})
    seeds: str = shared_field("seeds", help="comma-separated training seeds, one run of each model per seed, named "
                                            "<model>-seed<N> (seed 0 keeps the plain name); empty: --seed alone")
    split_seed: int = field(default=0, metadata={
        "help": "seed of the data selection (train/validation split, evaluation subsets, their corrupted copies)"})
    resume: bool = field(default=True, metadata={
        "help": "continue a stopped run from its last finished epoch, and skip runs already finished with "
                "the same configuration (--no-resume trains from scratch)"})
    # optimisation
    epochs: int = field(default=40, metadata={"help": "passes over the training split"})
    budgets: str = field(default="", metadata={
        "help": "comma-separated epoch counts: each model is trained once per budget, named <model>-ep<N> "
                "(a budget equal to --epochs keeps the plain name); empty: --epochs alone"})
    batch_size: int = field(default=512, metadata={"help": "images per optimisation step (all processes together)"})
    lr: float = field(default=0.2, metadata={"help": "peak learning rate of the warm-up/decay schedule"})
    momentum: float = field(default=0.9, metadata={"help": "SGD's Nesterov momentum"})
    weight_decay: float = field(default=5e-4, metadata={"help": "L2 weight decay, on weights only (not BatchNorm, biases)"})
    warmup_fraction: float = field(default=0.15, metadata={"help": "share of steps with rising LR"})
    label_smoothing: float = field(default=0.1, metadata={"help": "cross-entropy's label smoothing"})
    # angular loss (Wang et al. 2017): alpha in degrees; the paper recommends 36-55
    angular_alpha: float = field(default=40.0, metadata={"help": "the angular loss's alpha, degrees"})
    embedding_dim: int = field(default=128, metadata={"help": "embedders' output size (unit vectors)"})
    knn_k: int = field(default=10, metadata={"help": "neighbours in the embedders' kNN vote"})
    # corrupted training: each image is corrupted with this probability, by a random pick
    corruption_names: tuple[str, ...] = field(default=BENCHMARK_CORRUPTIONS, metadata={
        "help": "the corruptions the *_corrupted models train on (one drawn per image)"})
    corruption_severities: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata={
        "help": "the severities drawn from for corrupted training"})
    corruption_probability: float = field(default=0.5, metadata={
        "help": "chance that a training image of a *_corrupted model is corrupted"})
    # AugMix (the *_augmix models): the paper's CIFAR settings
    augmix_severity: float = field(default=3.0, metadata={"help": "AugMix: operations' strength, 0-10 scale"})
    augmix_width: int = field(default=3, metadata={"help": "AugMix: augmented chains mixed per image"})
    consistency_weight: float = field(default=12.0, metadata={
        "help": "ce_augmix_jsd: weight of the Jensen-Shannon consistency term (the paper's lambda)"})
    # evaluation during and after training (0 means all)
    eval_max_images: int = field(default=0, metadata={
        "help": "class-balanced images of each held-out set (and of the kNN gallery) scored after every epoch"})
    final_eval_images: int = field(default=0, metadata={
        "help": "class-balanced validation and test images scored, clean and corrupted, at the end of training"})
    knn_gallery_max: int = field(default=0, metadata={"help": "training images in the kNN gallery (0: all)"})
    final_corruption_images_per_cell: int = field(
        default=0, metadata={"help": "test images per corruption x severity in the final evaluation"}
    )
    umap_points: int = field(default=2000, metadata={"help": "images per set in the UMAP plot (0: no plot)"})
    # machine
    device: str = field(default="auto", metadata={"help": "auto (CUDA when available), cpu or cuda"})
    bf16: bool = field(default=True, metadata={
        "help": "bf16 autocast where the hardware has it (CUDA; CPUs with AMX or AVX-512 BF16), else float32"})
    channels_last: bool = field(default=True, metadata={"help": "channels-last memory layout"})
    compile: bool = field(default=False, metadata={"help": "torch.compile the training step (GPU runs)"})
    num_threads: int = field(default=0, metadata={"help": "torch threads (0: torch's default)"})
    progress: bool = shared_field("progress")


PRESETS: dict[str, dict] = {
    # The whole path for real, sized for the slowest CPU seen here (a 2-core AMD EPYC without native
    # bf16 trains at 15-22 images/s): a class-balanced 2,000 training images for two epochs is about
    # 4,000 images per model, so `make all` stays within 30 minutes there. Accuracy is low (about 30%);
    # the point is a real, complete run, not a good model.
    "quick": {
        "train_fraction": 0.04,
        "epochs": 2,
        "batch_size": 100,
        "lr": 0.05,
        "warmup_fraction": 0.2,
        "eval_max_images": 300,
        "final_eval_images": 500,
        "knn_gallery_max": 1000,
        "final_corruption_images_per_cell": 0,
        "umap_points": 300,
    },
    # The original studies' protocol on a 2-core CPU: a class-balanced 20% of the training set
    # (10,000 images) trains, 5,000 class-balanced images of the other 40,000 validate (clean and
    # corrupted, as the original tables had a validation column for every row). Sized so that
    # `make all PROFILE=study` fits in 150 minutes on a slow day without native bf16 (about 40
    # training images/s); with AMX or AVX-512 BF16 it trains about 3x faster (training/speed.py).
    "study": {
        "train_fraction": 0.2,
        "epochs": 5,
        "batch_size": 128,
        "lr": 0.2,
        "warmup_fraction": 0.15,
        "eval_max_images": 1000,
        "final_eval_images": 5000,
        "knn_gallery_max": 0,
        "final_corruption_images_per_cell": 0,
        "umap_points": 1500,
    },
    "full": {
        "train_fraction": 1.0,
        "epochs": 40,
        "batch_size": 512,
        "lr": 0.2,
        "eval_max_images": 0,
        "final_eval_images": 0,
        "knn_gallery_max": 0,
        "final_corruption_images_per_cell": 10000,
        "umap_points": 3000,
    },
}
