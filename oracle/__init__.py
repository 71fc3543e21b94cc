"""SolChain Oracle: the daemon that turns energy-market data into signed on-chain reports."""

__version__ = "0.1.0"
