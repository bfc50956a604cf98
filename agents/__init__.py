"""Agents for the MarS environments: baselines and Stable-Baselines3 integration."""
