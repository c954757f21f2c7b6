"""Run every benchmark script (benchmarks/bench_*.py) one after another and print their output."""
import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
failed = []
for script in sorted(here.glob("bench_*.py")):
    print(f"\n=== {script.name} ===", flush=True)
    r = subprocess.run([sys.executable, str(script)], cwd=here.parent, check=False)
    if r.returncode:
        failed.append(script.name)
if failed:
    print(f"\nfailed: {', '.join(failed)}")
    sys.exit(1)
