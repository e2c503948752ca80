# B4 (the conv beta-VAE of bench/peers, 64x64x3, batch 64, beta 4, Adam lr 1e-4) in PyTorch on
# CUDA for a fixed wall time: the calibration ceiling of scripts/device/vae.sh. Same math and
# data files as bench/peers/bench_torch.py B4 (BENCH_DATA from bench/peers/gen_data.py).
import json, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "peers"))
from common import load_np, BETA
import torch, torch.nn.functional as F

secs = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
dev = torch.device("cuda")
T = lambda n: torch.from_numpy(load_np(n).copy()).to(dev)
X4, E4 = T("b4_x"), T("b4_eps")
names = [f"b4_c{l}_{s}" for l in range(4) for s in "wb"] + ["b4_e0_w", "b4_e0_b", "b4_e1_w", "b4_e1_b",
         "b4_d0_w", "b4_d0_b", "b4_d1_w", "b4_d1_b"] + [f"b4_t{l}_{s}" for l in range(4) for s in "wb"]
params = [T(n).requires_grad_(True) for n in names]
pp = dict(zip(names, params))

def core(x, eps):
    B = x.shape[0]; h = x
    for l in range(4):
        h = torch.relu(F.conv2d(h, pp[f"b4_c{l}_w"], pp[f"b4_c{l}_b"], stride=2, padding=1))
    h = h.reshape(B, 1024)
    h = torch.relu(h @ pp["b4_e0_w"] + pp["b4_e0_b"]); st = h @ pp["b4_e1_w"] + pp["b4_e1_b"]
    mu, logvar = st[:, :10], st[:, 10:]
    z = mu + torch.exp(0.5 * logvar) * eps
    h = torch.relu(z @ pp["b4_d0_w"] + pp["b4_d0_b"])
    h = torch.relu(h @ pp["b4_d1_w"] + pp["b4_d1_b"]).reshape(B, 64, 4, 4)
    for l in range(4):
        h = F.conv_transpose2d(h, pp[f"b4_t{l}_w"], pp[f"b4_t{l}_b"], stride=2, padding=1)
        if l < 3: h = torch.relu(h)
    rec = F.binary_cross_entropy_with_logits(h, x, reduction="sum") / B
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / B
    return rec + BETA * kl

opt = torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
def step(i):
    opt.zero_grad(set_to_none=True)
    l = core(X4[i % 4], E4[i % 4]); l.backward(); opt.step()
    return l
first = [float(step(i)) for i in range(11)]  # also the warm-up; losses at steps 0, 1, 10
torch.cuda.synchronize()
n, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < secs:
    for _ in range(20):
        step(11 + n); n += 1
    torch.cuda.synchronize()
dt = time.perf_counter() - t0
print(json.dumps({"fw": "torch-cuda", "bench": "B4", "device": torch.cuda.get_device_name(0),
                  "steps": n, "seconds": round(dt, 2), "steps_per_s": n / dt,
                  "losses_0_1_10": [first[0], first[1], first[10]]}))
