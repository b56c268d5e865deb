#!/usr/bin/env python3
"""Checks that no file of a daemon is in a loop of calls with another file of
the same daemon (docs/architecture.md, "Layers inside the daemons").

Reads the symbols of BUILD/obj/<part>/**/*.o with nm: an undefined symbol of
one object defined by another is a call (or a reference) from the first file
to the second. Prints every loop (strongly connected set of files) and exits
1 if there is one. Usage: check-calls.py BUILD PART..."""
import collections
import glob
import os
import subprocess
import sys


def graph(build, part):
    root = os.path.join(build, "obj", part)
    defs, refs = {}, collections.defaultdict(set)
    for o in glob.glob(os.path.join(root, "**", "*.o"), recursive=True):
        f = os.path.relpath(o, root)[:-2]
        out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDBR":
                defs[p[2]] = f
            elif len(p) == 2 and p[0] == "U":
                refs[f].add(p[1])
    g = collections.defaultdict(set)
    for f, rs in refs.items():
        g[f] |= {defs[r] for r in rs if r in defs and defs[r] != f}
    return set(defs.values()) | set(refs), g


def loops(nodes, g):
    index, low, stack, on, found, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def main():
    build, parts = sys.argv[1], sys.argv[2:]
    bad = 0
    for part in parts:
        nodes, g = graph(build, part)
        for comp in loops(nodes, g):
            bad = 1
            print(f"calls: a loop between files of {part}/:", file=sys.stderr)
            for f in comp:
                print(f"  {f} -> {sorted(x for x in g[f] if x in comp)}", file=sys.stderr)
    return bad


if __name__ == "__main__":
    sys.exit(main())
