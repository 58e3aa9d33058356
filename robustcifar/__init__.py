"""Shared core of the robustness benchmark: what training, export, serving and the benchmark all use.

Nothing in here imports from training/, export/, serve/ or benchmark/; those parts import this
package and hand files to each other through the artifacts folder.
"""
