"""The MOL network: one concept per module."""

from mol.model.ccc import CCC
from mol.model.checkpoint import load_checkpoint, save_checkpoint
from mol.model.conv_stack import ConvStack
from mol.model.correlation import correlation
from mol.model.f5c import F5C
from mol.model.fcc import FCC
from mol.model.flow_head import FlowHead
from mol.model.landmark_head import LandmarkHead
from mol.model.mer_head import MERHead
from mol.model.mol import MOL, MOLConfig, MOLOutput
from mol.model.official import CheckpointError, from_official, to_official_state_dict

__all__ = [
    "CCC",
    "F5C",
    "FCC",
    "MOL",
    "CheckpointError",
    "ConvStack",
    "FlowHead",
    "LandmarkHead",
    "MERHead",
    "MOLConfig",
    "MOLOutput",
    "correlation",
    "from_official",
    "load_checkpoint",
    "save_checkpoint",
    "to_official_state_dict",
]
