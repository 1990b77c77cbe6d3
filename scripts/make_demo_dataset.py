"""Generate genrl's bundled demo dataset: Pendulum-v1 swing-up data from a noisy scripted controller.

    python scripts/make_demo_dataset.py            # writes src/genrl/assets/demo.npz (reproducible, ~1 min)

Behaviour: in each episode a fraction ε ~ U(0.3, 0.9) of the steps take a uniform-random torque; the others
take the scripted controller's torque plus N(0, 0.3²) noise. The data is therefore multimodal and clearly
sub-optimal (normalized score ≈ 50), leaving offline RL room to improve.

Reference returns for the 0–100 normalized score (mean over 100 seeded episodes each):
R_min = the uniform-random policy, R_max = the noiseless scripted controller. No network, no agent training.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import gymnasium as gym
import numpy as np

ENV_ID = "Pendulum-v1"
SWING_GAIN = 15.0  # Pendulum-v1 (g = 10, m = l = 1): θ̈ = 15·sin θ + 3·u, so E = ½θ̇² + 15·cos θ is conserved
MAX_TORQUE = 2.0
EPSILON_RANGE = (0.3, 0.9)
ACTION_NOISE = 0.3
EPISODES = 300
REFERENCE_EPISODES = 100
SEED = 0
OUT = Path(__file__).resolve().parents[1] / "src" / "genrl" / "assets" / "demo.npz"


def scripted_torque(obs: np.ndarray) -> float:
    """Energy-pumping swing-up, PD stabilisation near the top."""
    cos_th, sin_th, omega = obs
    if cos_th > 0.85:
        torque = -(10.0 * np.arctan2(sin_th, cos_th) + 2.0 * omega)
    else:
        energy = 0.5 * omega**2 + SWING_GAIN * cos_th
        direction = np.sign(omega) if abs(omega) > 1e-3 else 1.0
        torque = MAX_TORQUE * direction * np.clip(SWING_GAIN + 1.0 - energy, 0.0, 1.0)
    return float(np.clip(torque, -MAX_TORQUE, MAX_TORQUE))


def rollout(env: gym.Env, policy, seed: int) -> dict[str, np.ndarray]:
    obs, _ = env.reset(seed=seed)
    steps: dict[str, list] = {"obs": [], "action": [], "reward": [], "next_obs": [], "done": []}
    while True:
        action = np.array([policy(obs)], dtype=np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip(steps, (obs, action, reward, next_obs, float(terminated))):
            steps[key].append(value)
        obs = next_obs
        if terminated or truncated:
            return {k: np.asarray(v, dtype=np.float32) for k, v in steps.items()}


def mean_return(env: gym.Env, policy, seeds: range) -> float:
    return float(np.mean([rollout(env, policy, s)["reward"].sum() for s in seeds]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    env = gym.make(ENV_ID)

    def behaviour(epsilon: float):
        def act(obs: np.ndarray) -> float:
            if rng.random() < epsilon:
                return float(rng.uniform(-MAX_TORQUE, MAX_TORQUE))
            return float(np.clip(scripted_torque(obs) + ACTION_NOISE * rng.normal(), -MAX_TORQUE, MAX_TORQUE))

        return act

    episodes = [rollout(env, behaviour(rng.uniform(*EPSILON_RANGE)), seed=SEED + i) for i in range(EPISODES)]
    data = {k: np.concatenate([ep[k] for ep in episodes]) for k in episodes[0]}
    ref_min = mean_return(env, lambda obs: float(rng.uniform(-MAX_TORQUE, MAX_TORQUE)), range(10_000, 10_100))
    ref_max = mean_return(env, scripted_torque, range(20_000, 20_000 + REFERENCE_EPISODES))
    returns = np.array([ep["reward"].sum() for ep in episodes])
    info = {
        "env_id": ENV_ID,
        "episodes": EPISODES,
        "transitions": len(data["reward"]),
        "behaviour": f"ε ~ U{EPSILON_RANGE} uniform-random steps, else scripted + N(0, {ACTION_NOISE}²)",
        "ref_min_score": round(ref_min, 2),
        "ref_max_score": round(ref_max, 2),
        "dataset_return_mean": round(float(returns.mean()), 2),
        "dataset_score": round(float(100 * (returns.mean() - ref_min) / (ref_max - ref_min)), 2),
        "seed": SEED,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data, info=np.array(json.dumps(info)))
    print(json.dumps(info | {"bytes": args.out.stat().st_size}, indent=2))


if __name__ == "__main__":
    main()
