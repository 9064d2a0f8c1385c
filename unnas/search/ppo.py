"""PPO over the space's decisions (TransNAS-Bench-101's settings).

A GRU policy picks each decision of :meth:`space.decisions` in turn (DARTS: each node's input
pair and its two ops; NB101: 21 edge bits, then 5 ops), the previous choice fed back as input.
One architecture is one episode whose only reward, at its last decision, is its fitness
normalised by the mean and std of the fitnesses seen so far (a failed or invalid architecture
gets -2). After ``ppo.memory`` decision steps: clipped PPO (ε ``ppo.clip``) with GAE (γ, λ),
value loss × ``value_coef``, entropy bonus × ``entropy_coef``, Adam lr 0.01 × 0.999 every 15
optimizer steps.

With ``fitness.workers`` N > 1, N architectures sampled from the current policy are in flight; each
one that completes is rewarded (normalised by the fitnesses completed so far) and added to the
memory, the policy is updated once the memory is full, and the freed worker gets an architecture
sampled from the policy as it is then. An episode may thus have been sampled by a policy up to
N − 1 completions older than the one it updates: PPO's clipped importance ratio is built for that.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

FAILED_REWARD = -2.0


class Policy(nn.Module):
    def __init__(self, sizes: list[int], hidden: int = 32):
        super().__init__()
        self.sizes = sizes
        self.embed = nn.Embedding(sum(sizes) + 1, hidden)
        self.offsets = [0] + np.cumsum(sizes).tolist()
        self.cell = nn.GRUCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in sizes)
        self.value = nn.Linear(hidden, 1)

    def steps(self, choices: list[int] | None, generator: torch.Generator | None = None):
        """Roll through the decisions (sampling when ``choices`` is None): choices, log-probs, entropies, values."""
        h = torch.zeros(1, self.cell.hidden_size)
        token = torch.tensor([sum(self.sizes)])
        out_c, logps, ents, values = [], [], [], []
        for t, head in enumerate(self.heads):
            h = self.cell(self.embed(token), h)
            dist = torch.distributions.Categorical(logits=head(h)[0])
            if choices is None:
                c = int(torch.multinomial(dist.probs.detach(), 1, generator=generator))
            else:
                c = int(choices[t])
            out_c.append(c)
            logps.append(dist.log_prob(torch.tensor(c)))
            ents.append(dist.entropy())
            values.append(self.value(h)[0, 0])
            token = torch.tensor([self.offsets[t] + c])
        return out_c, torch.stack(logps), torch.stack(ents), torch.stack(values)


def gae(rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """Advantages of one episode (terminal after the last step)."""
    adv, running = np.zeros_like(rewards), 0.0
    for t in reversed(range(len(rewards))):
        nxt = values[t + 1] if t + 1 < len(rewards) else 0.0
        running = rewards[t] + gamma * nxt - values[t] + gamma * lam * running
        adv[t] = running
    return adv


def ppo_search(run, rng, cfg=None, settings=None) -> None:
    p = settings if settings is not None else cfg.ppo
    torch.manual_seed(int(rng.integers(2**31)))
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    policy = Policy(run.space.decisions(), p.hidden)
    opt = torch.optim.Adam(policy.parameters(), lr=p.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=p.decay_every, gamma=p.lr_decay)
    seen: list[float] = []
    memory: list[tuple] = []

    def propose():
        with torch.no_grad():
            choices, logps, _e, values = policy.steps(None, gen)
        return run.space.from_decisions(choices), (choices, logps, values)

    def completed(tag, arch, f) -> None:
        choices, logps, values = tag
        if f is not None:
            seen.append(f)
        reward = FAILED_REWARD if f is None else (f - np.mean(seen)) / (np.std(seen) + 1e-8) if len(seen) > 1 else 0.0
        r = np.zeros(len(choices))
        r[-1] = reward
        v = values.numpy()
        adv = gae(r, v, p.gamma, p.gae_lambda)
        memory.append((choices, logps, torch.tensor(adv, dtype=torch.float32),
                       torch.tensor(adv + v, dtype=torch.float32)))
        if sum(len(m[0]) for m in memory) >= p.memory:
            _update(policy, opt, sched, memory, p)
            memory.clear()

    run.drive(propose, completed)


def _update(policy: Policy, opt, sched, memory: list[tuple], p) -> None:
    for _ in range(p.epochs):
        loss = 0.0
        for choices, old_logp, adv, ret in memory:
            _c, logp, ent, values = policy.steps(choices)
            ratio = torch.exp(logp - old_logp)
            surrogate = torch.min(ratio * adv, torch.clamp(ratio, 1 - p.clip, 1 + p.clip) * adv)
            loss = loss + (-surrogate.mean() + p.value_coef * ((values - ret) ** 2).mean() - p.entropy_coef * ent.mean())
        opt.zero_grad()
        (loss / len(memory)).backward()
        opt.step()
        sched.step()
