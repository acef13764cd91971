"""hybridburst: burst e-commerce capacity into the public cloud and give it back."""

__version__ = "0.1.0"
