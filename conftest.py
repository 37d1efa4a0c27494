"""Test-wide settings: everything runs offline, on the CPU, from the repository root."""

import os

# The recipe must never reach the Hugging Face hub in tests: backbones are local folders.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
