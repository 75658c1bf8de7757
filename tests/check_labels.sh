#!/usr/bin/env bash
# Every TEST_CASE carries exactly one of [unit], [integration], [slow] (its ctest label), and
# no name contains ';' (ctest would split it and run a filter that matches nothing), and every
# file with [threads] cases is built into ember_thread_tests (the ThreadSanitizer job).
set -euo pipefail
cd "$(dirname "$0")"
status=0
python3 - <<'PY' || status=1
import re, glob, sys
bad = 0
for path in glob.glob('*/*.cc'):
    s = open(path).read()
    for m in re.finditer(r'\bTEST_CASE\(', s):
        span = s[m.end():re.compile(r'\)\s*\{').search(s, m.end()).end()]
        name = re.match(r'\s*"([^"]*)"', span)
        if name is None:
            continue  # not a declaration (a macro's text)
        text = ''.join(t for t in re.findall(r'"((?:[^"\\]|\\.)*)"', span) if not t.startswith('['))
        if ';' in text:
            print(f"check_labels: {path}: '{text}' contains ';' (ctest would split the name)")
            bad += 1
        labels = re.findall(r'\[(unit|integration|slow)\]', span)
        if len(labels) != 1:
            print(f"check_labels: {path}: '{name.group(1)}' has labels {labels}, needs one")
            bad += 1
# ThreadSanitizer runs the ember_thread_tests target: a file with [threads] cases must be in it.
cmake = open('CMakeLists.txt').read()
target = re.search(r'add_executable\(ember_thread_tests([^)]*)\)', cmake)
listed = set(target.group(1).split()) if target else set()
for path in glob.glob('*/*.cc'):
    if '[threads]' in open(path).read() and path not in listed:
        print(f"check_labels: {path} has [threads] cases but is not in ember_thread_tests")
        bad += 1
sys.exit(1 if bad else 0)
PY
exit $status
