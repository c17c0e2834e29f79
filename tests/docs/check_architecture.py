#!/usr/bin/python3
"""Checks that docs/ARCHITECTURE.md and the code agree with CMake's room graph.

    check_architecture.py SOURCE_DIR BUILD_DIR            check (CTest docs.architecture)
    check_architecture.py SOURCE_DIR BUILD_DIR --write    rewrite the generated diagram

The room graph comes from CMake itself: every iranker_library() records its iranker_* DEPS and the
configure step writes BUILD_DIR/rooms.txt ("room: its direct room deps"). The check fails when
  * the graph has a cycle (dependencies must point one way);
  * a room's source includes a header of a room it does not list as a dependency (file:line);
  * the diagram between the room-graph markers of docs/ARCHITECTURE.md is not the one rendered
    from the graph (run with --write to regenerate it);
  * the rooms table of docs/ARCHITECTURE.md lists other dependencies for a room than CMake, or
    misses a room.
"""
import os
import re
import sys

BEGIN = "<!-- room-graph:begin"
END = "<!-- room-graph:end -->"


def read_graph(build):
    graph = {}
    with open(os.path.join(build, "rooms.txt")) as f:
        for line in f:
            if ":" in line:
                room, deps = line.split(":", 1)
                graph[room.strip()] = deps.split()
    return graph


def layers(graph):
    """Longest path from a room with no dependencies; raises on a cycle."""
    depth, visiting = {}, set()

    def visit(r, path):
        if r in depth:
            return depth[r]
        if r in visiting:
            raise SystemExit("cycle in the room graph: " + " -> ".join(path + [r]))
        visiting.add(r)
        d = 1 + max((visit(x, path + [r]) for x in graph.get(r, [])), default=-1)
        visiting.discard(r)
        depth[r] = d
        return d

    for r in graph:
        visit(r, [])
    return depth


def render(graph):
    depth = layers(graph)
    order = sorted(graph, key=lambda r: (-depth[r], list(graph).index(r)))
    width = max(len(r) for r in graph) + 2
    lines = []
    for r in order:
        deps = sorted(graph[r], key=lambda d: (-depth[d], list(graph).index(d)))
        lines.append(f"{r.ljust(width)}{'→ ' + ' '.join(deps) if deps else '(nothing)'}".rstrip())
    return "```\n" + "\n".join(lines) + "\n```\n"


def check_includes(src, graph):
    problems = []
    rooms = set(graph)
    for room in graph:
        allowed = set(graph[room]) | {room}
        for dirpath, _, files in os.walk(os.path.join(src, room)):
            for name in sorted(files):
                if not name.endswith((".cc", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        m = re.match(r'\s*#\s*include\s+"([a-z_]+)/', line)
                        if m and m.group(1) in rooms and m.group(1) not in allowed:
                            problems.append(f"{os.path.relpath(path, src)}:{n}: includes {m.group(1)}/ "
                                            f"but {room}/ does not depend on it (CMake DEPS: "
                                            f"{' '.join(graph[room]) or 'none'})")
    return problems


def check_table(doc, graph):
    """Rows of the rooms table: | `room/` | owns | uses |."""
    problems, seen = [], set()
    for line in doc.splitlines():
        m = re.match(r"\|\s*`([a-z_]+)/`\s*\|(.*)\|(.*)\|\s*$", line)
        if not m or m.group(1) not in graph:
            continue
        room = m.group(1)
        seen.add(room)
        listed = set(re.findall(r"`?([a-z_]+)`?", m.group(3))) & set(graph)
        if listed != set(graph[room]):
            problems.append(f"docs/ARCHITECTURE.md: the row of {room}/ lists rooms "
                            f"{sorted(listed)}, CMake has {sorted(graph[room])}")
    for room in graph:
        if room not in seen:
            problems.append(f"docs/ARCHITECTURE.md: no row for room {room}/ in the rooms table")
    return problems


def main():
    src, build = sys.argv[1], sys.argv[2]
    write = "--write" in sys.argv[3:]
    graph = read_graph(build)
    doc_path = os.path.join(src, "docs", "ARCHITECTURE.md")
    doc = open(doc_path).read()
    a, b = doc.find(BEGIN), doc.find(END)
    if a < 0 or b < a:
        sys.exit("docs/ARCHITECTURE.md: the room-graph markers are missing")
    start = doc.index("\n", a) + 1
    diagram = render(graph)
    if write:
        open(doc_path, "w").write(doc[:start] + diagram + doc[b:])
        print("docs/ARCHITECTURE.md: room graph written")
        return
    problems = []
    if doc[start:b] != diagram:
        problems.append("docs/ARCHITECTURE.md: the room-graph diagram differs from CMake's graph "
                        "(regenerate: tests/docs/check_architecture.py . build --write); CMake's:\n"
                        + diagram)
    problems += check_table(doc, graph)
    problems += check_includes(src, graph)
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"architecture: {len(graph)} rooms, graph acyclic, includes follow it, docs match")


if __name__ == "__main__":
    main()
