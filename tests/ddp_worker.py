"""Run by tests/test_train.py under torchrun (2 CPU processes, gloo): trains the smoke DDGAN."""
import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import TensorImages  # noqa: E402

from semlib import DDGAN, ddgan_preset, train  # noqa: E402
from semlib.train import dist_info  # noqa: E402

run_dir = Path(sys.argv[1])
torch.set_num_threads(1)
cfg = ddgan_preset("smoke", resolution=16)
m = DDGAN(cfg, in_ch=3)
train(m, TensorImages(n=64, r=16), run_dir, steps=4, batch_size=8, log_every=2, ckpt_every=4)
rank, _, world = dist_info()
assert world == 2 and dist.get_world_size() == 2
flat = torch.cat([p.detach().flatten() for p in m.G.parameters()])
torch.save(flat, run_dir / f"g_rank{rank}.pt")
dist.destroy_process_group()
