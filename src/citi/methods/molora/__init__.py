"""MOLoRA (CITI §3): LoRA experts behind a token-level router with a null slot.

config.py (MoloraConfig) · layer.py (the layer and the routing loss) · model.py (injector) ·
modeling_molora.py (remote code shipped in checkpoints) · save.py (checkpoint writer).
"""

from .config import MoloraConfig
from .layer import (MoloraLinear, is_molora_layer, module_routing_loss, molora_layers, molora_parameters,
                    router_mass, routing_loss)
from .model import inject_molora, molora_config_of
from .modeling_molora import load_molora_adapter
from .save import remote_code_files, save_molora_model

__all__ = ["MoloraConfig", "MoloraLinear", "inject_molora", "routing_loss", "module_routing_loss",
           "molora_parameters", "molora_layers", "is_molora_layer", "router_mass", "save_molora_model",
           "load_molora_adapter", "molora_config_of", "remote_code_files"]
