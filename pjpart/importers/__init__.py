"""Importers: computation graphs from JAX functions, Keras models and REGAL ``.pbtxt`` files.

Heavy libraries (Keras) are imported only when their importer is called.
"""

from .jaxpr import from_jax
from .keras import from_keras
from .regal import load_regal

__all__ = ["from_jax", "from_keras", "load_regal"]
