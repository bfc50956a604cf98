"""Train a PPO execution agent on MarS-Execution-v0 (see agents/train_ppo.py for every flag).

python examples/train_execution.py --total-timesteps 200000
"""

from __future__ import annotations

from agents.train_ppo import main

if __name__ == "__main__":
    main(None)
