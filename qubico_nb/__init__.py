"""qubico-nb: look at, hear and compare Qubico generative-audio tasks in Jupyter notebooks."""

__version__ = "0.1.0"
