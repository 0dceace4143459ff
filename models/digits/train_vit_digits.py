"""Trains vit-digits on scikit-learn's handwritten digits, exports and quantises it, and records
its accuracy. Makes every committed file in models/digits/.

Run from the repository root with the training-only tools installed (not runtime dependencies):
    pip install torch==2.13.0
    python models/digits/train_vit_digits.py

Steps:
1. load_digits (1797 8x8 images, shipped with scikit-learn), stratified 80/20 split (seed 0);
   the test split is saved as test_split.npz (normalised images + labels).
2. Train a pre-norm ViT with the architecture of models.digits.CONFIG, written in torch with the
   zoo builder's parameter names (AdamW, cosine schedule, +-1 pixel random shifts), seeded.
3. Export: the zoo builder (models.vit_builder, opset 17) filled with the trained weights; check
   onnxruntime's float logits against torch's on the test split.
4. Quantise with quantize_static in VARIANTS, calibrated on training images; measure float and
   onnxruntime int8 top-1 on the test split and write metadata.json and README.md.
"""

import json
import math
import pathlib
import sys
import time

import numpy as np
import onnxruntime as ort
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models.cache import write_atomically  # noqa: E402
from models.digits import CONFIG, DIRECTORY, normalize  # noqa: E402
from models.quantization import QuantVariant, quantize  # noqa: E402
from models.vit_builder import INPUT_NAME, LAYERNORM_EPSILON, TrainedWeights, build_vit  # noqa: E402
from models.vit_config import BuildOptions  # noqa: E402

SEED = 0
EPOCHS = 120
BATCH = 64
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 0.05
CALIBRATION_IMAGES = 64
VARIANTS = ["qdq-s8-pt", "qdq-u8-pt", "qdq-s8-pc", "qop-u8-pt", "qop-s8-pc"]


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)
        self.output = nn.Module()
        self.output.dense = nn.Linear(width, width)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = (layer(x).reshape(b, n, self.heads, d // self.heads).transpose(1, 2) for layer in (self.query, self.key, self.value))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1)
        return self.output.dense((probs @ v).transpose(1, 2).reshape(b, n, d))


class Layer(nn.Module):
    def __init__(self, width, heads, mlp):
        super().__init__()
        self.layernorm_before = nn.LayerNorm(width, eps=LAYERNORM_EPSILON)
        self.attention = Attention(width, heads)
        self.layernorm_after = nn.LayerNorm(width, eps=LAYERNORM_EPSILON)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(width, mlp)
        self.output = nn.Module()
        self.output.dense = nn.Linear(mlp, width)

    def forward(self, x):
        x = x + self.attention(self.layernorm_before(x))
        hidden = nn.functional.gelu(self.intermediate.dense(self.layernorm_after(x)))
        return x + self.output.dense(hidden)


class DigitsViT(nn.Module):
    """The builder's ViT (vit_builder docstring) in torch; state_dict keys are its names."""

    def __init__(self, cfg=CONFIG):
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.patch_embeddings = nn.Module()
        self.embeddings.patch_embeddings.projection = nn.Conv2d(cfg.channels, cfg.width, cfg.patch_size, stride=cfg.patch_size)
        self.embeddings.cls_token = nn.Parameter(0.02 * torch.randn(1, 1, cfg.width))
        self.embeddings.position_embeddings = nn.Parameter(0.02 * torch.randn(1, cfg.tokens, cfg.width))
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(Layer(cfg.width, cfg.heads, cfg.mlp_width) for _ in range(cfg.depth))
        self.layernorm = nn.LayerNorm(cfg.width, eps=LAYERNORM_EPSILON)
        self.classifier = nn.Linear(cfg.width, cfg.num_classes)

    def forward(self, pixels):
        x = self.embeddings.patch_embeddings.projection(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.embeddings.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.embeddings.position_embeddings
        for layer in self.encoder.layer:
            x = layer(x)
        return self.classifier(self.layernorm(x)[:, 0])


def builder_weights(model: DigitsViT) -> dict[str, np.ndarray]:
    """torch Linear stores [out, in]; the builder's MatMul weights are [in, out] (the classifier
    is a Gemm with transB=1 and keeps torch's layout)."""
    arrays = {}
    for name, tensor in model.state_dict().items():
        value = tensor.detach().numpy().astype(np.float32)
        linear_in_encoder = name.startswith("encoder.") and name.endswith(".weight") and value.ndim == 2
        arrays[name] = value.T.copy() if linear_in_encoder else value
    return arrays


def random_shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to one pixel each way (background -1 fills in)."""
    padded = nn.functional.pad(images, (1, 1, 1, 1), value=-1.0)
    offsets = torch.randint(0, 3, (images.shape[0], 2), generator=generator)
    return torch.stack([p[:, dy:dy + 8, dx:dx + 8] for p, (dy, dx) in zip(padded, offsets.tolist())])


def train(images: np.ndarray, labels: np.ndarray) -> DigitsViT:
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    model = DigitsViT()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps = EPOCHS * math.ceil(len(images) / BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LEARNING_RATE, total_steps=steps, pct_start=0.1)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), BATCH):
            batch = order[start:start + BATCH]
            loss = nn.functional.cross_entropy(model(random_shift(x[batch], generator)), y[batch], label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        if epoch % 20 == 0 or epoch == EPOCHS - 1:
            print(f"epoch {epoch:3d}  loss {total / len(x):.4f}")
    return model.eval()


def onnx_predictions(model_bytes: bytes, images: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {INPUT_NAME: image[None]})[0] for image in images])


def main() -> None:
    digits = load_digits()
    images = normalize(digits.images)[:, None]
    labels = digits.target.astype(np.int64)
    train_x, test_x, train_y, test_y = train_test_split(images, labels, test_size=0.2, random_state=SEED, stratify=labels)
    started = time.time()
    model = train(train_x, train_y)
    print(f"trained in {time.time() - started:.0f} s")

    float_bytes = build_vit(CONFIG, BuildOptions(opset=17), TrainedWeights(builder_weights(model))).SerializeToString()
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(test_x)).numpy()
    onnx_logits = onnx_predictions(float_bytes, test_x)
    gap = float(np.abs(onnx_logits - torch_logits).max())
    assert gap < 1e-3, f"exported graph disagrees with torch by {gap}"
    float_top1 = float((onnx_logits.argmax(1) == test_y).mean())

    calibration_rows = np.random.default_rng(SEED).choice(len(train_x), CALIBRATION_IMAGES, replace=False)
    calibration = [{INPUT_NAME: train_x[i][None]} for i in sorted(calibration_rows)]
    int8_top1 = {}
    for tag in VARIANTS:
        quantized = quantize(float_bytes, QuantVariant.parse(tag), calibration)
        int8_top1[tag] = float((onnx_predictions(quantized, test_x).argmax(1) == test_y).mean())
        write_atomically(DIRECTORY / f"vit-digits-{tag}.onnx", quantized)
    write_atomically(DIRECTORY / "vit-digits-float.onnx", float_bytes)
    split = DIRECTORY / "test_split.npz"
    with open(split.with_suffix(".tmp"), "wb") as out:
        np.savez_compressed(out, images=test_x, labels=test_y)
    split.with_suffix(".tmp").replace(split)

    record = {
        "config": {k: getattr(CONFIG, k) for k in ("image_size", "patch_size", "width", "depth", "heads", "mlp_ratio", "num_classes", "channels")},
        "parameters": CONFIG.parameter_count,
        "train_images": len(train_x), "test_images": len(test_x), "calibration_images": CALIBRATION_IMAGES,
        "epochs": EPOCHS, "torch": torch.__version__, "onnxruntime": ort.__version__,
        "float_top1": float_top1, "int8_top1": int8_top1, "max_float_logit_gap_torch_vs_onnxruntime": gap,
    }
    write_atomically(DIRECTORY / "metadata.json", (json.dumps(record, indent=2) + "\n").encode())
    rows = "\n".join(f"| `vit-digits-{tag}.onnx` | {tag} | {acc:.2%} ({round(acc * len(test_y))}/{len(test_y)}) |" for tag, acc in int8_top1.items())
    readme = f"""# vit-digits: a ViT trained on scikit-learn's handwritten digits

Generated by `train_vit_digits.py`; do not edit by hand. Architecture: 8x8x1 input, patch 2
({CONFIG.num_patches} patches + class token), width {CONFIG.width}, depth {CONFIG.depth}, {CONFIG.heads} heads, MLP {CONFIG.mlp_width},
10 classes, {CONFIG.parameter_count:,} parameters. Trained on {len(train_x)} images, tested on the {len(test_y)} held-out
images in `test_split.npz` (normalised to [-1, 1], shape [N, 1, 8, 8]). int8 models calibrated on
{CALIBRATION_IMAGES} training images with quantize_static; top-1 measured with onnxruntime {ort.__version__} (CPU).

| model | variant | top-1 on the test split |
| --- | --- | --- |
| `vit-digits-float.onnx` | float | {float_top1:.2%} ({round(float_top1 * len(test_y))}/{len(test_y)}) |
{rows}
"""
    write_atomically(DIRECTORY / "README.md", readme.encode())
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
