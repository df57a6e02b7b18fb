#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""check-includes.py - the include rules of the tree (make check).

1. Rooms: a file in user/<room>/ includes only headers of the rooms below it
   (ALLOWED); the oracle (selftests/model/) shares no code with bpf/ or
   user/compile/ (it would stop being an independent reading of the spec).
2. Private headers (<name>_int.h) are included only from their own folder.
3. No include cycle among the project's own headers (a cycle is reported
   with the files on it).
4. Includes are folder-qualified: a header of user/<room>/ is named
   "<room>/<name>.h", never by its bare name or through "../".
5. With --objects DIR (the build directory): no cycle among the objects of
   user/ in what calls what (symbols from nm), and no room's object calling
   into a room it may not include. Headers can hide such a cycle: a private
   header that declares everything makes any call look allowed.

Usage: check-includes.py [--objects BUILD_DIR] [TOP]

Prints one line per violation ("file:line: what") and exits 1 when there
is any; prints "includes: N files, rules hold" otherwise.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

# Which rooms each part of the tree may include (besides its own room and
# headers/). Rooms are the folders of user/.
ALLOWED = {
    "user/lib": set(),
    "user/policy": {"lib"},
    "user/compile": {"lib", "policy"},
    # the client holds the snapshot in the policy parser's tree (policy/held.h)
    "user/cp": {"lib", "policy"},
    "user/wg": {"lib", "policy"},
    "user/dp": {"lib", "policy", "compile"},
    "user/identity": {"lib", "policy", "wg", "cp"},
    "user/gatewayd": {"lib", "policy", "compile", "dp", "wg", "cp", "identity"},
    "tools/gwctl": {"lib", "policy", "compile", "dp", "wg"},
    "tools/bench": {"lib", "policy", "compile", "dp", "wg", "cp"},
    "selftests/model": {"lib", "policy"},
    "selftests": {"lib", "policy", "compile", "dp", "wg", "cp", "gatewayd", "identity",
                  "model"},
    "bpf": set(),
    "tools/bench/bpf": set(),
    "selftests/bpf": set(),  # test-only BPF programs (include bpf/*.bpf.h)
}


def part_of(path):
    best = None
    for p in ALLOWED:
        if path == p or path.startswith(p + "/"):
            if best is None or len(p) > len(best):
                best = p
    return best


def object_graph(build):
    """{object: [objects whose symbols it uses]} over BUILD/user/*/*.o."""
    import glob
    import subprocess
    objs = sorted(glob.glob(os.path.join(build, "user", "*", "*.o")))
    defs, undef = {}, {}
    for o in objs:
        out = subprocess.run(["nm", o], capture_output=True, text=True,
                             check=True).stdout
        d, u = set(), set()
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDBRC":
                d.add(p[2])
            elif len(p) == 2 and p[0] == "U":
                u.add(p[1])
        defs[o], undef[o] = d, u
    owner = {sym: o for o, d in defs.items() for sym in d}
    name = lambda o: os.path.relpath(o, build)[:-2] + ".c"
    return {name(o): sorted({name(owner[s]) for s in undef[o]
                             if s in owner and owner[s] != o}) for o in objs}


def find_cycles(graph, what, errors):
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in graph.get(n, ()):
            if state.get(d) == 1:
                cyc = stack[stack.index(d):] + [d]
                errors.append(what + " cycle: " + " -> ".join(cyc))
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


def main(top, build=None):
    os.chdir(top)
    rooms = sorted(d for d in os.listdir("user")
                   if os.path.isdir(os.path.join("user", d)))
    files = []
    for base in ("user", "tools", "selftests", "bpf", "headers"):
        for dirpath, _, names in os.walk(base):
            files += [os.path.join(dirpath, n) for n in names
                      if n.endswith((".c", ".h"))]
    files.sort()
    bare = {}  # bare header name -> room, for rule 4
    for r in rooms:
        for n in os.listdir(os.path.join("user", r)):
            if n.endswith(".h"):
                bare[n] = r
    errors = []
    graph = {}  # project header or source -> project headers it includes

    def resolve(src, inc):
        """The file an include names, or None when it is not the project's."""
        here = os.path.dirname(src)
        for cand in (os.path.join(here, inc), os.path.join("user", inc),
                     os.path.join("headers", inc), os.path.join("bpf", inc),
                     os.path.join("selftests", inc),
                     os.path.join("selftests/lib", inc)):
            if os.path.isfile(cand):
                return os.path.normpath(cand)
        return None

    for f in files:
        part = part_of(f)
        with open(f, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().split("\n")
        deps = []
        for no, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            where = "%s:%d" % (f, no)
            if ".." in inc.split("/"):
                errors.append('%s: "%s" climbs out with ../' % (where, inc))
                continue
            target = resolve(f, inc)
            if target is None:
                continue  # generated (skeletons, vmlinux.h) or a system header
            deps.append(target)
            room = None
            if target.startswith("user/"):
                room = target.split("/")[1]
                if "/" not in inc:
                    errors.append('%s: "%s" is user/%s/%s: include it as "%s/%s"'
                                  % (where, inc, room, inc, room, inc))
            if target.startswith("selftests/model/"):
                room = "model"
            if target.endswith("_int.h") and \
                    os.path.dirname(target) != os.path.dirname(f):
                errors.append('%s: "%s" is private to %s/' %
                              (where, inc, os.path.dirname(target)))
            if target.startswith(("bpf/", "tools/bench/bpf/")) and \
                    part not in ("bpf", "tools/bench/bpf", "selftests/bpf"):
                errors.append('%s: "%s" is BPF code; user space shares only headers/'
                              % (where, inc))
            if part is None or room is None:
                continue
            own = f.split("/")[1] if f.startswith("user/") else \
                ("model" if part == "selftests/model" else None)
            if room != own and room not in ALLOWED[part]:
                errors.append('%s: %s may not include %s/ ("%s"): it is above it'
                              % (where, part, room, inc))
        graph[f] = deps

    # Rule 3: include cycles.
    find_cycles(graph, "include", errors)

    # Rule 5: call cycles and calls upward, from the objects.
    if build:
        calls = object_graph(build)
        find_cycles(calls, "call", errors)
        for src, deps in calls.items():
            part = part_of(src)
            for d in deps:
                room = d.split("/")[1]
                if room != src.split("/")[1] and room not in ALLOWED[part]:
                    errors.append("%s calls into %s (%s): it is above it"
                                  % (src, d, room))
        nobj = len(calls)

    for e in errors:
        print(e)
    if errors:
        print("includes: %d violation(s)" % len(errors))
        return 1
    print("includes: %d files%s, rules hold" %
          (len(files), ", %d objects" % nobj if build else ""))
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    build = None
    if args[:1] == ["--objects"]:
        build = os.path.abspath(args[1])
        args = args[2:]
    sys.exit(main(args[0] if args else ".", build))
