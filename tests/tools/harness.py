"""harness.py -- what check.py and fates_check.py share: PASS/FAIL lines,
the @check decorator (a check that raises has failed), and the summary."""
import os
import shutil
import sys

results = {"PASS": 0, "FAIL": 0}


def result(ok, name, text):
    tag = "PASS" if ok else "FAIL"
    results[tag] += 1
    print(f"{tag} {name}: {text[:700]}", flush=True)


def check(name):
    def wrap(fn):
        try:
            fn(name)
        except Exception as e:  # a check that cannot run has failed
            result(False, name, f"{type(e).__name__}: {e}")
        return fn
    return wrap


def finish(work):
    """Prints "N passed, N failed", removes work (TOOLS_KEEP=1 keeps it),
    exits 1 if any check failed."""
    print(f"{results['PASS']} passed, {results['FAIL']} failed")
    if not os.environ.get("TOOLS_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"files kept in {work}", file=sys.stderr)
    sys.exit(1 if results["FAIL"] else 0)
