"""NAS-Bench-101 specs: validation rules, pruning, the benchmark's hash, JSON round trip."""

import itertools
import json

import numpy as np
import pytest

from unnas.errors import GenotypeError, UnnasError
from unnas.spaces.nasbench101.spec import ModelSpec, SpecError, hash_module, load_spec

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"

# The benchmark's Inception-like example, as a user writes it and as the benchmark stores it.
INCEPTION = ([[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0],
              [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
             ["input", C1, C3, C3, C3, MP, "output"])
INCEPTION_STORED = ([[0, 1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
                     [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
                    ["input", C3, C1, MP, C3, C3, "output"])


def chain(n_interior, ops=None):
    n = n_interior + 2
    m = np.zeros((n, n), dtype=int)
    for i in range(n - 1):
        m[i, i + 1] = 1
    return m, ["input"] + (ops or [C3] * n_interior) + ["output"]


@pytest.mark.parametrize("matrix, ops, fragment", [
    ([[0, 1], [0, 0], [0, 0]], ["input", "output"], "square"),
    ([[0, 1, 1], [0, 0, 1]], ["input", C3, "output"], "square"),
    ([[0, 2, 0], [0, 0, 1], [0, 0, 0]], ["input", C3, "output"], "0 or 1"),
    ([[0, 1, 0], [0, 0, 1], [1, 0, 0]], ["input", C3, "output"], "upper-triangular"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"], "unknown op 'conv5x5' at vertex 1"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [C3, C3, "output"], "first op must be 'input'"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", C3, C1], "last op must be 'output'"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "output"], "2 ops for a 3×3 matrix"),
    ([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", C3, "output"], "does not reach the output"),
])
def test_each_rule_has_a_one_line_error(matrix, ops, fragment):
    with pytest.raises(SpecError) as e:
        ModelSpec(matrix, ops, where="arch.json")
    msg = str(e.value)
    assert fragment in msg and msg.startswith("arch.json:") and "\n" not in msg
    assert isinstance(e.value, GenotypeError) and isinstance(e.value, UnnasError)


def test_vertex_and_edge_limits_apply_after_pruning():
    m, ops = chain(6)  # 8 vertices on one path
    with pytest.raises(SpecError, match="8 vertices after pruning; .* at most 7"):
        ModelSpec(m, ops)
    m = np.triu(np.ones((6, 6), dtype=int), 1)  # complete DAG on 6 vertices: 15 edges
    with pytest.raises(SpecError, match="15 edges after pruning; .* at most 9"):
        ModelSpec(m, ["input", C3, C3, C1, MP, "output"])
    # 8 vertices whose dead-end vertex 6 prunes away: accepted, as in the benchmark
    big = np.zeros((8, 8), dtype=int)
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 7), (2, 6)]:
        big[a, b] = 1
    spec = ModelSpec(big, ["input", C3, C1, MP, C3, C1, C3, "output"])
    assert spec.num_vertices == 7 and spec.num_edges == 6 and spec.ops[-2] == C1


def test_pruning_removes_vertices_off_every_input_output_path():
    m = [[0, 1, 0, 0, 0],   # input -> 1
         [0, 0, 0, 0, 1],   # 1 -> output
         [0, 0, 0, 1, 0],   # 2 unreachable from input, feeds 3
         [0, 0, 0, 0, 0],   # 3 reaches nothing
         [0, 0, 0, 0, 0]]
    spec = ModelSpec(m, ["input", C1, C3, MP, "output"])
    assert spec.matrix.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert spec.ops == ("input", C1, "output")
    assert spec.original_ops == ("input", C1, C3, MP, "output") and spec.original_matrix.shape == (5, 5)
    # an isolated dangling vertex on the input side only
    m2 = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert ModelSpec(m2, ["input", C3, MP, "output"]).ops == ("input", C3, "output")
    # pruned and unpruned forms are the same module: same hash
    assert ModelSpec(m, ["input", C1, C3, MP, "output"]).module_hash() == ModelSpec(
        [[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", C1, "output"]).module_hash()


def test_spec_is_immutable():
    spec = ModelSpec(*INCEPTION)
    with pytest.raises(AttributeError):
        spec.ops = ()
    with pytest.raises(ValueError):
        spec.matrix[0, 1] = 0


def test_hash_is_invariant_to_relabelling_and_sensitive_to_ops_and_edges():
    user, stored = ModelSpec(*INCEPTION), ModelSpec(*INCEPTION_STORED)
    assert user.module_hash() == stored.module_hash()  # the benchmark finds the user's spec under this key
    # The benchmark's key for this module, as used with its recorded statistics by
    # google-research's functional_equivalence NAS-Bench-101 tests.
    assert user.module_hash() == "28cfc7874f6d200472e1a9dcd8650aa0"
    # every permutation of the interior vertices (upper-triangular or not) hashes the same
    m = np.array(INCEPTION[0])
    labels = [-1, 1, 0, 0, 0, 2, -2]
    ref = hash_module(m, labels)
    for perm in itertools.islice(itertools.permutations(range(1, 6)), 0, None, 7):
        p = [0, *perm, 6]
        inv = np.argsort(p)
        pm = m[np.ix_(inv, inv)]
        assert hash_module(pm, [labels[i] for i in inv]) == ref
    # one op changed, one edge moved: different modules, different hashes
    ops = list(INCEPTION[1])
    ops[1] = C3
    assert ModelSpec(INCEPTION[0], ops).module_hash() != ref
    m2 = m.copy()
    m2[0, 5], m2[2, 5] = 0, 1  # the max-pool now follows the 3x3 conv instead of the input
    assert ModelSpec(m2, INCEPTION[1]).module_hash() != ref


def test_json_round_trip_and_file_errors(tmp_path):
    spec = ModelSpec(*INCEPTION)
    path = tmp_path / "spec.json"
    spec.save(path)
    assert json.loads(path.read_text()) == {"matrix": INCEPTION[0], "ops": INCEPTION[1]}
    again = load_spec(path)
    assert again == spec and hash(again) == hash(spec) and again.module_hash() == spec.module_hash()
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{matrix: oops")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(tmp_path / "bad.json")
    (tmp_path / "nokey.json").write_text('{"matrix": [[0, 1], [0, 0]]}')
    with pytest.raises(SpecError, match="'matrix' and 'ops'"):
        load_spec(tmp_path / "nokey.json")
