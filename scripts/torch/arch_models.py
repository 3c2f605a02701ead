#!/usr/bin/python3
"""torchvision constructors of pdiff's architectures, and the deterministic weights both sides fill.

    /usr/bin/python3 scripts/torch/make_arch_fixtures.py    # writes test/fixtures/arch_*.json
    /usr/bin/python3 scripts/torch/check_arch_interop.py DIR  # loads pdiff-written files strictly

Every model is built by torchvision 0.14's own classes (Debian's python3-torchvision):
* resnet20/32/56: torchvision.models.resnet.BasicBlock stacked the CIFAR way (He et al. 2016;
  torchvision has no CIFAR ResNet, pdiff's names follow torchvision's ResNet);
* resnet18/resnet50: torchvision.models.resnet18/50; the small stem replaces conv1 by a 3x3
  stride-1 conv and maxpool by Identity, as P-Diff does on CIFAR;
* efficientnet-b0/-s: torchvision.models.efficientnet.EfficientNet over
  _efficientnet_conf("efficientnet_b0", width_mult, depth_mult) (1.0/1.0 and 0.5/0.5); the small
  stem sets features[0][0].stride = 1;
* vit: torchvision.models.vision_transformer.VisionTransformer.

det_fill(model) overwrites every tensor of the state_dict (num_batches_tracked excepted) with
values of a 32-bit integer hash of (tensor index, element index), the same arithmetic as
test/helpers/det-weights.ts, so a fixture needs only the input and the logits, not the weights.
"""

import math

import numpy as np

import torch
import torch.nn as nn
from torchvision.models import efficientnet as tv_eff
from torchvision.models import resnet as tv_resnet
from torchvision.models import vision_transformer as tv_vit


class CifarResNet(nn.Module):
    """CIFAR ResNet-(6n+2) with torchvision's BasicBlock and names (conv1, bn1, layer1..3, fc)."""

    def __init__(self, n, in_channels=3, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        cin = 16
        for li, (cout, stride) in enumerate([(16, 1), (32, 2), (64, 2)]):
            blocks = []
            for bi in range(n):
                s = stride if bi == 0 else 1
                down = None
                if s != 1 or cin != cout:
                    down = nn.Sequential(nn.Conv2d(cin, cout, 1, s, bias=False), nn.BatchNorm2d(cout))
                blocks.append(tv_resnet.BasicBlock(cin, cout, s, down))
                cin = cout
            setattr(self, f"layer{li + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(x.mean(dim=(2, 3)), 1))


def build(arch, in_shape, num_classes, vit=None, small_stem=None):
    """The torchvision model of pdiff's `model.arch` for images in_shape = (c, h, w), eval mode."""
    c, h, w = in_shape
    if small_stem is None:
        small_stem = max(h, w) <= 64
    if arch in ("resnet20", "resnet32", "resnet56"):
        m = CifarResNet({"resnet20": 3, "resnet32": 5, "resnet56": 9}[arch], c, num_classes)
    elif arch in ("resnet18", "resnet50"):
        m = getattr(tv_resnet, arch)(num_classes=num_classes)
        if small_stem:
            m.conv1 = nn.Conv2d(c, 64, 3, 1, 1, bias=False)
            m.maxpool = nn.Identity()
        elif c != 3:
            m.conv1 = nn.Conv2d(c, 64, 7, 2, 3, bias=False)
    elif arch in ("efficientnet-b0", "efficientnet-s"):
        wm, dm = (1.0, 1.0) if arch == "efficientnet-b0" else (0.5, 0.5)
        setting, last = tv_eff._efficientnet_conf("efficientnet_b0", width_mult=wm, depth_mult=dm)
        m = tv_eff.EfficientNet(setting, dropout=0.2, num_classes=num_classes, last_channel=last)
        first = m.features[0][0]
        if c != 3 or small_stem:
            m.features[0][0] = nn.Conv2d(c, first.out_channels, 3, 1 if small_stem else 2, 1, bias=False)
    elif arch == "vit":
        v = vit or {"patchSize": 4, "layers": 6, "heads": 4, "hidden": 64, "mlp": 128}
        m = tv_vit.VisionTransformer(image_size=h, patch_size=v["patchSize"], num_layers=v["layers"],
                                     num_heads=v["heads"], hidden_dim=v["hidden"], mlp_dim=v["mlp"],
                                     num_classes=num_classes)
        if c != 3:
            m.conv_proj = nn.Conv2d(c, v["hidden"], v["patchSize"], v["patchSize"])
    else:
        raise ValueError(f"unknown arch {arch!r}")
    return m.eval()


def state_names(model):
    """[(name, shape)] of the state_dict without num_batches_tracked, in order."""
    return [(k, list(v.shape)) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


M32 = 0xFFFFFFFF


def det_values(tensor_index, n):
    """n values in [-0.5, 0.5): a 32-bit integer hash of (tensor_index, i) (same as det-weights.ts)."""
    m = np.uint64(M32)
    seed = np.uint64((tensor_index * 0x9E3779B1 + 0x7F4A7C15) & M32)
    h = (np.arange(n, dtype=np.uint64) * np.uint64(0x85EBCA6B)) & m
    h = h ^ seed
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x7FEB352D)) & m
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x846CA68B)) & m
    h ^= h >> np.uint64(16)
    return torch.from_numpy(h.astype(np.float64) / 4294967296.0 - 0.5)


def det_tensor(index, name, shape):
    """The deterministic value of one state_dict tensor, by the kind its name says."""
    n = math.prod(shape) if shape else 1
    u = det_values(index, n)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "running_var":
        v = 0.5 + (u + 0.5)
    elif leaf == "running_mean":
        v = 0.2 * u
    elif len(shape) >= 2 and leaf != "class_token" and leaf != "pos_embedding":
        fan_in = math.prod(shape[1:])
        v = u * (2 * math.sqrt(3.0 / fan_in))  # variance 1 / fan_in
    elif leaf == "weight":  # BatchNorm / LayerNorm scale
        v = 1.0 + 0.4 * u
    else:  # biases, class token, positional embedding
        v = 0.2 * u
    return v.to(torch.float32).reshape(shape)


def det_fill(model):
    """Overwrite every float tensor of model.state_dict() (num_batches_tracked excepted) in place."""
    sd = model.state_dict()
    names = [k for k in sd if not k.endswith("num_batches_tracked")]
    with torch.no_grad():
        for i, k in enumerate(names):
            sd[k].copy_(det_tensor(i, k, list(sd[k].shape)))
    return model
