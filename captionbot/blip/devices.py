"""The device and precision model code runs on: one choice for the worker, training, `evaluate` and the benches."""

import torch

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def pick_device(setting: str = "auto") -> torch.device:
    """`auto`: the first CUDA GPU where there is one, else the CPU; otherwise `cpu`, `cuda`, `cuda:N`."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def pick_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """`auto`: bf16 on GPUs that have it, fp16 on older ones, fp32 on the CPU; else the precision named."""
    if precision == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
