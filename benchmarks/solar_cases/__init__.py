"""Data cases for ``benchmarks/solar.py``: real measured PV systems and the derived TMY3 case."""
