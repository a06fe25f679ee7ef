#!/usr/bin/env python3
"""Checks that npm-mirror's library modules depend only downwards (Package.swift).

Run from anywhere: python3 scripts/check-layering.py. Reads Package.swift as text, builds each
target's dependency closure (targets of this package only) and checks the rules below: the record
stores, the package store and the offline tools link neither librdkafka nor the pipeline, and the
lowest modules reach no configuration. Prints each broken rule; exits 1 when one is broken.
"""
import os
import re
import sys

# A module, and what it must never reach, directly or through the modules it depends on.
FORBIDDEN = {
    "MirrorWeb": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorRecords", "MirrorStore", "MirrorServe"},
    "NPMNames": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorRecords", "MirrorStore", "MirrorRuntime", "NPMRegistry"},
    "MirrorJSON": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorRecords", "MirrorStore"},
    "MirrorSignatures": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig"},
    "MirrorStore": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorRecords"},
    "MirrorRecords": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorStore"},
    "MirrorConfig": {"MirrorKafka", "CRdKafka", "MirrorPipeline"},
    "NPMRegistry": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorStore", "MirrorRecords"},
    "MirrorRuntime": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorStore", "MirrorRecords"},
    "MirrorServe": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorEmbedded"},
    "MirrorReconcile": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorStore", "MirrorEmbedded"},
    "MirrorVerify": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorEmbedded"},
    "MirrorExport": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorEmbedded", "MirrorServe"},
    "MirrorLockfiles": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorRecords", "MirrorStore", "MirrorRuntime", "NPMRegistry", "MirrorServe", "MirrorOffline"},
    "MirrorOffline": {"MirrorKafka", "CRdKafka", "MirrorPipeline", "MirrorConfig", "MirrorRecords", "MirrorServe", "MirrorEmbedded"},
    "MirrorKafka": {"MirrorPipeline", "MirrorConfig", "MirrorRecords", "MirrorStore"},
}

TARGET = re.compile(r'\.(target|executableTarget|testTarget|systemLibrary)\(\s*name:\s*"([^"]+)"')


def targets(text):
    """Each target's name and the names of the package's own targets in its dependency list."""
    starts = [(m.start(), m.group(2)) for m in TARGET.finditer(text)]
    found = {}
    for index, (start, name) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        body = text[start:end]
        listing = re.search(r"dependencies:\s*\[(.*?)\]\s*[,)]", body, re.S)
        # Products of other packages are written `.product(name: …)`; a plain string is a target.
        plain = re.sub(r"\.product\([^)]*\)", "", listing.group(1)) if listing else ""
        found[name] = set(re.findall(r'"([^"]+)"', plain))
    return found


def reach(name, graph):
    seen, stack = set(), [name]
    while stack:
        for dependency in graph.get(stack.pop(), ()):
            if dependency not in seen:
                seen.add(dependency)
                stack.append(dependency)
    return seen


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "Package.swift"), encoding="utf-8") as manifest:
        graph = targets(manifest.read())
    problems = []
    for module, forbidden in sorted(FORBIDDEN.items()):
        if module not in graph:
            problems.append(f"{module}: not a target of Package.swift (update scripts/check-layering.py)")
            continue
        for unwanted in sorted(reach(module, graph) & forbidden):
            problems.append(f"{module} depends on {unwanted}")
    if problems:
        print("check-layering: dependencies that point up or sideways:")
        for problem in problems:
            print("  " + problem)
        return 1
    print(f"check-layering: {len(FORBIDDEN)} modules checked, every one depends only downwards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
