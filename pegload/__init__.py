"""pegload: load testing and benchmarking for Apache Pegasus."""

__version__ = "0.1.0"
