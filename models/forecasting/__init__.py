"""Demand and generation forecasting: point models, conformal intervals, model choice.

``Forecaster`` is the entry point; point models are listed in ``registry.MODEL_PATHS`` and
imported lazily (TensorFlow only when a deep model is asked for).
"""

from models.forecasting.decomposition import stl_decompose
from models.forecasting.forecaster import Forecaster

__all__ = ["Forecaster", "stl_decompose"]
