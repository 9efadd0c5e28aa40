"""Research-DeepLab backbones: each maps normalised images to {"features", "low_level"} endpoints."""
from trainer.model.backbones.mobilenet_v2 import mobilenet_v2
from trainer.model.backbones.xception65 import xception_65

BACKBONES = {"mobilenet_v2": mobilenet_v2, "xception_65": xception_65}
