"""The MarS environments: general trading, optimal execution, market making."""

from mars_gym.envs.execution import ExecutionEnv, ExecutionVectorEnv
from mars_gym.envs.market_making import MarketMakingEnv, MarketMakingVectorEnv
from mars_gym.envs.trading import MarSEnv, MarSVectorEnv

__all__ = [
    "ExecutionEnv",
    "ExecutionVectorEnv",
    "MarSEnv",
    "MarSVectorEnv",
    "MarketMakingEnv",
    "MarketMakingVectorEnv",
]
