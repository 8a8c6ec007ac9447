#!/usr/bin/env python3
"""Training-step throughput of a PyTorch peer, for `rtseg bench --train-config` to be read
against (issue 17: CPU training speed "with a peer measured in the same run").

The peer is the same kind of network and step, not the same network: torchvision's
MobileNetV3-Large features (or ResNet-18) under a small three-level fusion decoder, random
init, one SGD step (momentum 0.9, weight decay 5e-4) on cross-entropy with ignore index 255,
on synthetic batches at the crop and batch size given — as `rtseg bench --train-config` times
rtseg's step: forward, loss, backward, update; data loading excluded. It prints one JSON line
with the step time, images/s, parameter count, MACs (counted with hooks on every Conv2d and
Linear) and peak RSS.

Not part of CI: it needs `pip install torch torchvision` (any recent CPU or CUDA wheel; it
runs on the CPU). Usage, with the machine otherwise quiet, beside rtseg's own figure:

    python scripts/train_peer.py --backbone mobilenet_v3_large --batch 8 --crop 360 480 \
        --iters 3 --warmup 1 --threads 2
    target/release/rtseg bench --train-config configs/msnet-m_camvid.yaml \
        --set 'augment.crop=[360,480]' --iters 3 --warmup 1
"""

import argparse
import json
import resource
import time

import torch
import torch.nn.functional as F
import torchvision
from torch import nn


class FusionDecoder(nn.Module):
    """Features at 1/8, 1/16 and 1/32 projected to `width` channels, upsampled onto the 1/8
    map and summed, one 3×3 conv, a classifier, bilinear upsampling to the input."""

    def __init__(self, in_channels, width, classes):
        super().__init__()
        self.lateral = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
            for c in in_channels
        )
        self.fuse = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        self.classifier = nn.Conv2d(width, classes, 1)

    def forward(self, features, size):
        target = features[0].shape[-2:]
        x = sum(
            F.interpolate(lat(f), size=target, mode="bilinear", align_corners=False)
            for lat, f in zip(self.lateral, features)
        )
        return F.interpolate(
            self.classifier(self.fuse(x)), size=size, mode="bilinear", align_corners=False
        )


class Peer(nn.Module):
    def __init__(self, backbone, classes, width):
        super().__init__()
        if backbone == "mobilenet_v3_large":
            layers = torchvision.models.mobilenet_v3_large(weights=None).features
            # Stage ends at strides 8, 16, 32: blocks 6 (40 ch), 12 (112 ch), 16 (960 ch).
            self.stages = nn.ModuleList([layers[:7], layers[7:13], layers[13:]])
            channels = (40, 112, 960)
        elif backbone == "resnet18":
            r = torchvision.models.resnet18(weights=None)
            stem = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2)
            self.stages = nn.ModuleList([stem, r.layer3, r.layer4])
            channels = (128, 256, 512)
        else:
            raise SystemExit(f"unknown backbone {backbone!r}")
        self.decoder = FusionDecoder(channels, width, classes)

    def forward(self, x):
        size = x.shape[-2:]
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return self.decoder(features, size)


def count_macs(model, x):
    """Multiply-accumulates of one forward pass: Conv2d and Linear layers."""
    total = 0

    def conv(m, _inp, out):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total += out.numel() * k

    def linear(m, _inp, out):
        nonlocal total
        total += out.numel() * m.in_features

    hooks = [
        m.register_forward_hook(conv if isinstance(m, nn.Conv2d) else linear)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backbone", default="mobilenet_v3_large", choices=["mobilenet_v3_large", "resnet18"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, nargs=2, default=[360, 480], metavar=("H", "W"))
    ap.add_argument("--classes", type=int, default=11)
    ap.add_argument("--width", type=int, default=256, help="decoder channels (256: 3.85 M parameters, 9.70 GMACs at 720×960 on MobileNetV3-L, beside MsNet-M's 3.99 M and 10.66)")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    h, w = args.crop
    model = Peer(args.backbone, args.classes, args.width)
    model.eval()
    macs = count_macs(model, torch.zeros(1, 3, h, w))
    model.train()
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    images = torch.randn(args.batch, 3, h, w)
    labels = torch.randint(0, args.classes, (args.batch, h, w))
    labels[:, :8] = 255

    times = []
    for i in range(args.warmup + args.iters):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels, ignore_index=255)
        loss.backward()
        optimizer.step()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    step = sum(times) / len(times)
    print(
        json.dumps(
            {
                "peer": f"torch {torch.__version__}, torchvision {torchvision.__version__}",
                "backbone": args.backbone,
                "batch": args.batch,
                "crop": [h, w],
                "threads": args.threads,
                "params": params,
                "width": args.width,
                "gmacs": round(macs / 1e9, 3),
                "step_ms": round(step * 1e3, 1),
                "images_per_s": round(args.batch / step, 3),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
