"""Pure models for SolChain Oracle: forecasting, pricing, anomaly detection, dispatch.

Nothing here does I/O, reads settings, touches a database or web3, or sets up logging.
Heavy frameworks (TensorFlow) are imported inside the functions that need them.
"""
