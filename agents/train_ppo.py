"""Train a PPO agent (Stable-Baselines3) on a MarS task through the native vector env.

One readable file: the arguments are a dataclass, each documented; ``main`` parses them
from the command line. Training uses seeds below
:data:`agents.benchmark.EVALUATION_SEED_BASE`, so the league never evaluates on them.

    python -m agents.train_ppo --task execution

After every rollout SB3's logger prints a table: the mean episode reward and length and the
task's own figure per episode (``rollout/ep_shortfall_bp_mean`` for execution,
``rollout/ep_pnl_mean`` in dollars for market making) over the last 100 episodes, then the
losses of the PPO update (``train/*``); ``--tensorboard DIR`` also writes them there.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HumanOutputFormat, Logger, configure
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, VecNormalize
from tqdm import tqdm

from agents.baselines import BASELINES
from agents.benchmark import EVALUATION_SEED_BASE, TASKS
from agents.imitation import clone_baseline
from agents.sb3 import make_sb3_vec_env
from agents.trained import ObsNormalizer, normalizer_path
from mars_gym.console.flags import config_from_args, dataclass_flags

__all__ = ["EPISODE_FIGURES", "Args", "main", "train"]

#: The info entries of each task's last step that are logged per episode (from the native
#: vector env's final infos, through ``VecMonitor``): implementation shortfall (bp) for
#: execution, mark-to-market PnL (dollars) for market making.
EPISODE_FIGURES: dict[str, tuple[str, ...]] = {
    "execution": ("shortfall_bp",),
    "market-making": ("pnl",),
}


@dataclass(frozen=True)
class Args:
    """Arguments of a PPO run.

    Attributes:
        task: "execution" or "market-making".
        num_envs: environments in the native vector env (one batched model call).
        workers: processes the environments are split over, one core each
            (``mars_gym.envs.sharded``); the same episodes either way, faster only with
            many environments (1.48 times at 256 on two cores, none at 64; README).
        total_timesteps: environment steps to train for, over all environments.
        seed: seeds PPO and the environments (must stay below the evaluation seeds).
        n_steps: steps per environment between PPO updates.
        batch_size: PPO minibatch size.
        n_epochs: PPO epochs per update.
        learning_rate: Adam step size.
        gamma: discount factor.
        out: folder for the final model (model.zip, with its observation statistics in
            model.obs.json) and the periodic saves (see save_every).
        save_every: environment steps between saves of the PPO model under
            ``out/checkpoints`` (0: none).
        tensorboard: folder for tensorboard logs ("" for none; needs tensorboard).
        checkpoint: the LMM checkpoint the markets are generated with: a folder or a
            packaged checkpoint's name ("" for the packaged default).
        inventory_penalty: market making only: the training reward's inventory penalty in
            dollars per squared lot per step (the env's default is 0.01); a larger one
            trains a more risk-averse quoter. The league scores PnL whatever it was.
        max_minutes: wall-clock budget; training stops at the first rollout boundary after
            it (0: no budget, stop at total_timesteps only). Cloning counts in it.
        imitate: a baseline of the task (``agents.baselines.BASELINES``) the policy clones
            before PPO starts (``agents.imitation``; "" for none, PPO from scratch).
        imitation_steps: steps per environment the baseline plays for cloning.
        imitation_epochs: passes over those demonstrations.
    """

    task: str = "execution"
    num_envs: int = 64
    workers: int = 1
    total_timesteps: int = 400_000
    seed: int = 0
    n_steps: int = 32
    batch_size: int = 256
    n_epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    out: str = "runs/ppo"
    save_every: int = 50_000
    tensorboard: str = ""
    checkpoint: str = ""
    inventory_penalty: float = 0.01
    max_minutes: float = 25.0
    imitate: str = ""
    imitation_steps: int = 300
    imitation_epochs: int = 5

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {sorted(TASKS)}, got {self.task!r}")
        if not self.inventory_penalty >= 0:
            raise ValueError(f"inventory_penalty must be >= 0, got {self.inventory_penalty}")
        if not self.max_minutes >= 0:
            raise ValueError(f"max_minutes must be >= 0, got {self.max_minutes}")
        if self.imitate and self.imitate not in BASELINES[self.task]:
            raise ValueError(
                f"imitate must be a {self.task} baseline {sorted(BASELINES[self.task])}, "
                f"got {self.imitate!r}"
            )
        if not 1 <= self.workers <= self.num_envs:
            raise ValueError(
                f"workers must be in 1..num_envs ({self.num_envs}), got {self.workers}"
            )
        if not 0 <= self.seed < EVALUATION_SEED_BASE - self.num_envs:
            raise ValueError(f"seed must be in 0..{EVALUATION_SEED_BASE - self.num_envs - 1}")


class _ProgressAndBudget(BaseCallback):
    """A tqdm bar over environment steps; stops training once ``seconds`` of wall-clock
    time have passed since ``start`` (a ``time.perf_counter()``; never, for 0 seconds)."""

    def __init__(self, total: int, seconds: float, start: float) -> None:
        super().__init__()
        self.total, self.seconds, self.start = total, seconds, start
        self.bar: tqdm | None = None

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.total, desc="PPO", unit="step")

    def _on_step(self) -> bool:
        assert self.bar is not None
        self.bar.update(self.model.num_timesteps - self.bar.n)
        return not self.seconds or time.perf_counter() - self.start < self.seconds

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _EpisodeFigures(BaseCallback):
    """Logs the mean of each of ``keys`` over the episodes in SB3's episode buffer (as
    ``rollout/ep_<key>_mean``, beside SB3's ``ep_rew_mean``), and writes out the last
    update's losses when training ends (SB3 logs an update's losses with the next rollout)."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        super().__init__()
        self.keys = keys

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        episodes = self.model.ep_info_buffer or []
        for key in self.keys:
            values = [e[key] for e in episodes if key in e]
            if values:
                self.logger.record(f"rollout/ep_{key}_mean", sum(values) / len(values))

    def _on_training_end(self) -> None:
        self.logger.dump(self.num_timesteps)


def _logger(tensorboard: str) -> Logger:
    """SB3's logger: a table on stdout, and TensorBoard event files in the folder
    ``tensorboard`` unless it is ""."""
    if tensorboard:
        return configure(tensorboard, ["stdout", "tensorboard"])
    return Logger(None, [HumanOutputFormat(sys.stdout)])


class _PeriodicSave(BaseCallback):
    """Every ``every`` calls (one per vector step), saves the model as
    ``folder/ppo_<steps>_steps.zip`` with its observation statistics beside it, so each
    save plays in the league as the final model does."""

    def __init__(self, folder: Path, every: int) -> None:
        super().__init__()
        self.folder, self.every = folder, every

    def save(self) -> None:
        """Save now."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"ppo_{self.model.num_timesteps}_steps.zip"
        self.model.save(path)
        env = self.model.get_vec_normalize_env()
        assert env is not None, "train() always normalises"
        ObsNormalizer.from_vec_normalize(env).save(normalizer_path(path))

    def _on_step(self) -> bool:
        if self.n_calls % self.every == 0:
            self.save()
        return True


def train(args: Args, env: VecEnv | None = None) -> Path:
    """Train PPO as ``args`` says; returns the path of the saved model.

    ``env`` replaces the task's native vector env (e.g. one agent of the multi-agent market,
    :func:`agents.multi_agent.make_learner_vec_env`, whose task must be ``args.task``'s);
    it is monitored and normalised alike, and its own arguments then hold: ``args``'
    ``workers``, ``checkpoint`` and ``inventory_penalty`` are not used.

    Raises:
        ValueError: ``env`` does not have ``args.num_envs`` environments.
    """
    if env is None:
        env_kwargs: dict = {"checkpoint": args.checkpoint} if args.checkpoint else {}
        env_kwargs["workers"] = args.workers
        if args.task == "market-making":
            env_kwargs["inventory_penalty"] = args.inventory_penalty
        env = make_sb3_vec_env(TASKS[args.task], args.num_envs, seed=args.seed, **env_kwargs)
    elif env.num_envs != args.num_envs:
        raise ValueError(f"env has {env.num_envs} environments, but num_envs is {args.num_envs}")
    # observations mix ticks, shares and dollars: normalise them with running statistics
    # (saved beside the model, see agents.trained.ObsNormalizer), and the rewards too
    env = VecNormalize(VecMonitor(env, info_keywords=EPISODE_FIGURES[args.task]), gamma=args.gamma)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        learning_rate=args.learning_rate,
        gamma=args.gamma,
        seed=args.seed,
        device="cpu",
        verbose=0,
    )
    model.set_logger(_logger(args.tensorboard))
    out = Path(args.out)
    saver = None
    if args.save_every:
        every = max(args.save_every // args.num_envs, 1)
        saver = _PeriodicSave(out / "checkpoints", every)
    start = time.perf_counter()
    if args.imitate:
        report = clone_baseline(
            model,
            env,
            BASELINES[args.task][args.imitate],
            args.imitation_steps,
            args.imitation_epochs,
            args.batch_size,
        )
        print(f"cloned {args.imitate}: {report}")
        if saver is not None:  # the cloned policy, before any PPO update
            saver.init_callback(model)
            saver.save()
    budget = _ProgressAndBudget(args.total_timesteps, 60 * args.max_minutes, start)
    callbacks = [_EpisodeFigures(EPISODE_FIGURES[args.task]), budget]
    if saver is not None:
        callbacks.insert(0, saver)
    model.learn(total_timesteps=args.total_timesteps, callback=callbacks, progress_bar=False)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.zip")
    ObsNormalizer.from_vec_normalize(env).save(normalizer_path(out / "model.zip"))
    seconds = time.perf_counter() - start
    print(f"trained {model.num_timesteps:,} steps in {seconds:.0f} s -> {out / 'model.zip'}")
    env.close()
    return out / "model.zip"


def main(argv: list[str] | None = None) -> Path:
    """Parse :class:`Args` from the command line and train."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    dataclass_flags(parser, Args)
    args = config_from_args(Args, parser.parse_args(argv))
    print(asdict(args))
    return train(args)


if __name__ == "__main__":
    main()
