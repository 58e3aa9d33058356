"""The study across training seeds, test images and budgets: per-run outcomes collected into results/,
intervals that count seeds and images, the comparisons, the budget curve, and the README tables."""
