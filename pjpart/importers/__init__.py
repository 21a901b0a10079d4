"""Importers: computation graphs from JAX functions, Keras models, ONNX models, PyTorch modules and REGAL
``.pbtxt`` files.

Heavy libraries (Keras, onnx, torch) are imported only when their importer is called.
"""

from .jaxpr import from_jax
from .keras import from_keras
from .onnx import from_onnx
from .regal import load_regal
from .torch_export import from_torch

__all__ = ["from_jax", "from_keras", "from_onnx", "from_torch", "load_regal"]
