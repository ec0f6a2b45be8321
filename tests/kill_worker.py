"""Child process of test_train's kill test: trains a smoke DDGAN into a run folder (argv[1]) to 12 steps.
With SLOW_SAVE=1 every checkpoint write pauses after the temporary file is written (and prints WRITING), so
the parent can kill the process in the middle of a checkpoint."""
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import torch  # noqa: E402

from conftest import TensorImages  # noqa: E402
from semlib import DDGAN, ddgan_preset, train  # noqa: E402

torch.set_num_threads(1)
if os.environ.get("SLOW_SAVE"):
    real_save = torch.save

    def slow_save(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        print("WRITING", f, flush=True)
        time.sleep(30)

    torch.save = slow_save          # semlib.checkpoint looks torch.save up at call time
cfg = ddgan_preset("smoke", resolution=16)
m = DDGAN(cfg, in_ch=3)
train(m, TensorImages(), sys.argv[1], steps=12, batch_size=cfg.batch_size, seed=3, log_every=2, ckpt_every=2,
      ema_decay=0.9)
print("DONE", flush=True)
