"""How many parameters a distribution over n binary variables needs, by what it assumes.

Chain rule, no assumption: p(x₁)p(x₂|x₁)…p(xₙ|x₁..xₙ₋₁) has 1 + 2 + … + 2ⁿ⁻¹ = 2ⁿ − 1 free parameters.
Markov chain (xᵢ₊₁ ⊥ x₁..xᵢ₋₁ | xᵢ): 1 + 2(n − 1) = 2n − 1. Full independence: n.
A Bayes net: node i with parents pa(i) needs one Bernoulli per parent configuration, Σᵢ 2^|pa(i)|.
"""
from __future__ import annotations


class CycleError(ValueError):
    """The edges do not form a DAG; the message names a cycle."""


def chain_rule_params(n: int) -> int:
    return 2 ** n - 1


def markov_chain_params(n: int) -> int:
    return 2 * n - 1 if n > 0 else 0


def independent_params(n: int) -> int:
    return n


def parents(n: int, edges) -> list[list[int]]:
    """parents(n, [(a, b), ...])[i] = sorted sources of edges a → i; refuses bad node ids and self-loops."""
    pa = [set() for _ in range(n)]
    for a, b in edges:
        if not (0 <= a < n and 0 <= b < n):
            raise ValueError(f"edge {a}→{b} names a node outside 0..{n - 1}")
        if a == b:
            raise CycleError(f"edge {a}→{a} is a self-loop: a variable cannot be its own parent")
        pa[b].add(a)
    return [sorted(p) for p in pa]


def find_cycle(n: int, edges) -> list[int] | None:
    """A directed cycle as a node list [v₀, v₁, …, v₀], or None for a DAG (iterative DFS, colours)."""
    children = [[] for _ in range(n)]
    for a, b in edges:
        children[a].append(b)
    colour, parent = [0] * n, [-1] * n  # 0 unseen, 1 on the stack, 2 done
    for root in range(n):
        if colour[root]:
            continue
        stack = [(root, iter(children[root]))]
        colour[root] = 1
        while stack:
            v, it = stack[-1]
            w = next(it, None)
            if w is None:
                colour[v] = 2
                stack.pop()
            elif colour[w] == 1:  # back edge v → w closes a cycle
                cyc, u = [v], v
                while u != w:
                    u = parent[u]
                    cyc.append(u)
                return cyc[::-1] + [w]
            elif colour[w] == 0:
                colour[w], parent[w] = 1, v
                stack.append((w, iter(children[w])))
    return None


def bayes_net_params(n: int, edges) -> int:
    """Σᵢ 2^|pa(i)| free parameters; a cyclic graph raises CycleError naming the cycle."""
    pa = parents(n, edges)
    cyc = find_cycle(n, edges)
    if cyc is not None:
        raise CycleError("not a Bayes net: the edges form a cycle " + " → ".join(map(str, cyc)))
    return sum(2 ** len(p) for p in pa)


def full_chain_edges(n: int) -> list[tuple[int, int]]:
    """Every j → i for j < i: the chain rule's graph (2ⁿ − 1 parameters)."""
    return [(j, i) for i in range(n) for j in range(i)]


def markov_chain_edges(n: int) -> list[tuple[int, int]]:
    return [(i, i + 1) for i in range(n - 1)]
