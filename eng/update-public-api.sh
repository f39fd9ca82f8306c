#!/usr/bin/env bash
# Rewrites PublicAPI.Unshipped.txt of each src project from the PublicApiAnalyzers diagnostics:
# adds what RS0016 reports as undeclared and drops what RS0017 reports as gone. Review the diff before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
for proj in src/*/*.csproj; do
  dir=$(dirname "$proj")
  log=$(mktemp)
  dotnet build "$proj" --no-incremental -p:TreatWarningsAsErrors=false 2>&1 >"$log" || true
  python3 - "$dir" "$log" <<'PY'
import re, sys, pathlib
d, log = pathlib.Path(sys.argv[1]), open(sys.argv[2]).read()
add = set(re.findall(r"RS0016: Symbol '(.+?)' is not part of the declared public API", log))
rem = set(re.findall(r"RS0017: Symbol '(.+?)' is part of the declared API, but is either not public or could not be found", log))
f = d / "PublicAPI.Unshipped.txt"
lines = [l for l in f.read_text().splitlines() if l and not l.startswith("#")] if f.exists() else []
lines = sorted((set(lines) | add) - rem, key=lambda s: s.lstrip('~'))
f.write_text("#nullable enable\n" + "".join(l + "\n" for l in lines))
print(f"{d}: +{len(add)} -{len(rem)}")
PY
  rm -f "$log"
done
