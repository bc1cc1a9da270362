#!/usr/bin/env python3
"""A STAND-IN for an AI coding agent: applies prepared fixes, for greenloop's example scenarios.

Contract (the same a real fixer has): cwd is a fresh checkout of the repository, argv[2] the cluster JSON
({fingerprint, title, sampleMessage, tests: [{name, message}]}). argv[1] picks the behaviour:
  fix    apply every prepared fix in tools/fixes.json whose patterns all match one message of the cluster
  noop   change nothing (scenario "no-progress")
  cheat  delete the test files that define the failing tests (scenario "cheat": the gates must refuse it)
  logged as fix, and adds a line for the change at the end of CHANGES.md (as teams that keep a changelog ask of
         every change): two fixes of one cycle then edit the same lines, conflict at integration, and the
         second must be re-done on top of the first in that cycle (scenario "neighbours")
  hurried  as fix, but wrong on its first try where a fix has a "firstGuess" (argv[3] is the attempt,
         {{attempt}}): attempt 1 applies the guess, a plausible change that does not fix the failure; a later
         attempt, or a run that finds the guess already in the code (an earlier cycle integrated it), applies
         the fix. For measuring fixer.proveOnDeploy (bench/prove-bench.ts).
Stdlib only, so it runs wherever python3 does, whatever the example's own stack.
"""

import json
import os
import re
import sys


def messages_of(cluster):
    found = [cluster.get("sampleMessage"), cluster.get("title")]
    for t in cluster.get("tests") or []:
        found += [t.get("message"), t.get("name")]
    return [m for m in found if isinstance(m, str) and m]


def first_try(fx):
    """The guess instead of the fix, while the guess applies to the code and is not in it already."""
    guess = fx.get("firstGuess")
    if not guess:
        return fx
    for edit in guess["edits"]:
        with open(edit["file"]) as f:
            text = f.read()
        if text.count(edit["find"]) != edit.get("occurrences", 1) or edit["replace"] in text:
            return fx
    return {**fx, "description": guess["description"], "edits": guess["edits"]}


def apply_fixes(cluster, attempt=None):
    with open(os.path.join("tools", "fixes.json")) as f:
        table = json.load(f)
    messages = messages_of(cluster)
    chosen = [fx for fx in table["fixes"] if any(all(re.search(p, m) for p in fx["match"]) for m in messages)]
    if not chosen:
        print(f"no prepared fix for {cluster.get('title')}")
        return 0
    if attempt == 1:
        chosen = [first_try(fx) for fx in chosen]
    pending = {}
    for fx in chosen:
        for edit in fx["edits"]:
            path = edit["file"]
            text = pending.get(path)
            if text is None:
                with open(path) as f:
                    text = f.read()
            if text.count(edit["find"]) != edit.get("occurrences", 1):
                print(f"fix {fx['id']}: find text not in {path} as expected; writing nothing", file=sys.stderr)
                return 1
            pending[path] = text.replace(edit["find"], edit["replace"])
    for path, text in pending.items():
        with open(path, "w") as f:
            f.write(text)
    for fx in chosen:
        print(f"applied {fx['id']}: {fx['description']}")
    return 0


def log_change(cluster):
    with open("CHANGES.md", "a") as f:
        f.write(f"- {cluster.get('title')}\n")


def cheat(cluster):
    with open(os.path.join("tools", "fixes.json")) as f:
        test_dirs = json.load(f)["testDirs"]
    names = {t.get("name", "") for t in cluster.get("tests") or []}
    deleted = []
    for test_dir in test_dirs:
        for root, _dirs, files in os.walk(test_dir):
            for name in files:
                path = os.path.join(root, name)
                with open(path, errors="replace") as f:
                    text = f.read()
                if any(n and n in text for n in names):
                    os.remove(path)
                    deleted.append(path)
    print(f"deleted {deleted or 'nothing'} to make {sorted(names)} go away")
    return 0


def main():
    if len(sys.argv) < 3:
        print("usage: fixer.py fix|logged|noop|cheat <cluster.json> | fixer.py hurried <cluster.json> <attempt>", file=sys.stderr)
        return 2
    mode, cluster_file = sys.argv[1], sys.argv[2]
    with open(cluster_file) as f:
        cluster = json.load(f)
    print(f"fixer ({mode}): cluster {cluster.get('fingerprint')}: {cluster.get('title')}")
    if mode == "noop":
        print("changing nothing")
        return 0
    if mode == "cheat":
        return cheat(cluster)
    if mode == "hurried":
        if len(sys.argv) < 4 or not sys.argv[3].isdigit():
            print("usage: fixer.py hurried <cluster.json> <attempt> (pass {{attempt}})", file=sys.stderr)
            return 2
        return apply_fixes(cluster, int(sys.argv[3]))
    code = apply_fixes(cluster)
    if mode == "logged" and code == 0:
        log_change(cluster)
    return code


if __name__ == "__main__":
    sys.exit(main())
