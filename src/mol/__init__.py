"""MOL: joint micro-expression recognition, optical flow and facial landmarks."""

from mol.model import MOL, MOLConfig, MOLOutput, from_official, load_checkpoint, save_checkpoint

__version__ = "0.1.0"

__all__ = ["MOL", "MOLConfig", "MOLOutput", "__version__", "from_official", "load_checkpoint", "save_checkpoint"]
