"""Times Captum's gradient methods on an ibex config's own Vgg model and attribution images, one
image per call and in batches, so that `tools/bench --config configs/baselines/<method>.toml`
can be compared with it in one sitting (tools/reference/gradients_vs_captum.sh runs both).

  python captum_gradients.py --config configs/_base_/synthetic.toml --n 16 --batch 16

Needs torch and captum (the reference venv of docs/benchmarks.md). Settings are Captum's defaults
except where ibex's baseline configs name others: Saliency abs=True; IntegratedGradients 50 steps,
Gauss-Legendre, internal batch 64, zero baseline; SmoothGrad (NoiseTunnel over Saliency abs=False)
with `--smoothgrad-samples` draws of std 0.15 x (max - min) per image; LayerGradCam at
`--gradcam-layer`, bilinearly upsampled; GuidedBackprop. Prints one JSON object: seconds per image.
"""
import argparse, glob, json, os, time, tomllib

import numpy as np
import torch
import torch.nn as nn


def load_toml(path):
    """An ibex TOML file with its `_base_` chain merged (tables merge, everything else replaces)."""
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
    out = {}
    for base in cfg.pop("_base_", []):
        merge(out, load_toml(os.path.join(os.path.dirname(path), base)))
    merge(out, cfg)
    return out


def merge(into, new):
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v


class Vgg(nn.Module):
    """ibex's `type = "Vgg"` model as torchvision lays it out, so that its safetensors names load."""

    def __init__(self, m):
        super().__init__()
        layers, c = [], m.get("in_channels", 3)
        for v in m["cfg"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            layers += [nn.Conv2d(c, v, 3, padding=1)] + ([nn.BatchNorm2d(v)] if m.get("batch_norm") else [])
            layers.append(nn.ReLU())
            c = v
        widths = [c * m["avgpool"][0] * m["avgpool"][1]] + list(m.get("classifier", [4096, 4096]))
        head = []
        for a, b in zip(widths[:-1], widths[1:]):
            head += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(m.get("dropout", 0.5))]
        head.append(nn.Linear(widths[-1], m["num_classes"]))
        self.features, self.classifier = nn.Sequential(*layers), nn.Sequential(*head)
        self.avgpool = nn.AdaptiveAvgPool2d(tuple(m["avgpool"]))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def images(d, root, n):
    from PIL import Image

    idx = json.load(open(os.path.join(root, d["ind_to_cls_file"])))
    label = {v[0]: int(k) for k, v in idx.items()}
    files = sorted(glob.glob(os.path.join(root, d["img_root"], "*", "*")))[:n]
    mean = np.array(d["mean"], np.float32)[:, None, None]
    std = np.array(d["std"], np.float32)[:, None, None]
    xs = [(np.asarray(Image.open(f).convert("RGB"), np.float32).transpose(2, 0, 1) / 255.0 - mean) / std for f in files]
    ys = [label[os.path.basename(os.path.dirname(f))] for f in files]
    return torch.from_numpy(np.stack(xs)), torch.tensor(ys)


def methods(model, layer, sg_samples):
    from captum.attr import IntegratedGradients, GuidedBackprop, LayerAttribution, LayerGradCam, NoiseTunnel, Saliency

    sal, ig, gbp = Saliency(model), IntegratedGradients(model), GuidedBackprop(model)
    nt = NoiseTunnel(Saliency(model))
    gc = LayerGradCam(model, dict(model.named_modules())[layer])

    def smoothgrad(x, t):
        span = (x.flatten(1).max(1).values - x.flatten(1).min(1).values).view(-1, 1, 1, 1)
        # Captum's stdevs is a number per call: one image per call takes that image's range, a
        # batch takes its first image's (the synthetic images share ranges closely)
        return nt.attribute(x, nt_type="smoothgrad", nt_samples=sg_samples, stdevs=float(0.15 * span[0]), target=t, abs=False)

    def gradcam(x, t):
        return LayerAttribution.interpolate(gc.attribute(x, target=t, relu_attributions=True), x.shape[-2:], "bilinear")

    return {
        "Saliency": lambda x, t: sal.attribute(x, target=t, abs=True),
        "IntegratedGradients": lambda x, t: ig.attribute(x, target=t, n_steps=50, method="gausslegendre", internal_batch_size=64),
        "SmoothGrad": smoothgrad,
        "GradCam": gradcam,
        "GuidedBackprop": lambda x, t: gbp.attribute(x, target=t),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ibex-root", default=".")
    ap.add_argument("--config", default="configs/_base_/synthetic.toml")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--smoothgrad-samples", type=int, default=25)
    ap.add_argument("--gradcam-layer", default="features.20")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--freeze", action="store_true", help="no weight gradients (as ibex): requires_grad off")
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("IBEX_THREADS", "2")))
    cfg = load_toml(os.path.join(a.ibex_root, a.config))
    model = Vgg(cfg["model"]).eval()
    from safetensors.torch import load_file

    missing, unexpected = model.load_state_dict(load_file(os.path.join(a.ibex_root, cfg["model"]["weights"])), strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    for p in model.parameters():
        p.requires_grad_(not a.freeze)
    x, y = images(cfg["data"]["attribution"], a.ibex_root, a.n)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "n": len(x), "batch": a.batch, "frozen": a.freeze}
    for name, f in methods(model, a.gradcam_layer, a.smoothgrad_samples).items():
        out[name] = {}
        for key, batch in (("single_s_per_image", 1), ("batched_s_per_image", a.batch)):
            f(x[:batch], y[:batch])  # warm-up at the call's shape
            best = float("inf")
            for _ in range(a.repeat):  # the fastest pass: the slower ones measure the neighbours
                t = time.perf_counter()
                for i in range(0, len(x), batch):
                    f(x[i : i + batch], y[i : i + batch])
                best = min(best, (time.perf_counter() - t) / len(x))
            out[name][key] = best
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
