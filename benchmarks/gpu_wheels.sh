#!/usr/bin/env bash
# Fill .whl/ with the wheels a lent GPU machine lacks (no network there), for gpu_lease.sh /
# gpu_check.sh, which install them first. The image of 2026-12-04 (Python 3.12, torch
# 2.11+cu130, transformers 5.17, Lightning 2.6.6, pyarrow 25) had torch, transformers,
# Lightning, accelerate and what deepspeed imports besides hjson and pydantic, and none of
# what is listed here (pytest unchecked: carried to be sure). Run where the package
# registries are reachable, from the repository root:
#
#   bash benchmarks/gpu_wheels.sh                        # .whl/ for CPython 3.12, manylinux x86_64
#   PY_VERSION=3.11 OUT_DIR=/tmp/w bash benchmarks/gpu_wheels.sh   # another interpreter, folder
#
# Keep .whl/ out of the tree while running the test suite: gpu_check.sh installs from it
# whenever it exists, and tests/test_end_to_end_speed.py runs gpu_check.sh.
#
# Versions are the ones this repository's tests ran with. Three packages ship only source
# archives and are built here (pure Python: antlr4-python3-runtime, rouge-score; deepspeed
# with DS_BUILD_OPS=0, its kernels built on first use). bitsandbytes' wheel carries its CUDA
# 11/12 libraries too (43 MB): only the CUDA 13 ones are kept for a cu130 torch (7 MB), so the
# carried folder stays under the 64 MiB a run may take.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-.venv/bin/python}"
PY_VERSION="${PY_VERSION:-3.12}"
OUT="${OUT_DIR:-.whl}"
mkdir -p "$OUT/alt"
BINARY=(
  hydra-core==1.3.8 omegaconf==2.3.1
  datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 xxhash==4.1.0
  peft==0.21.2
  hjson==3.1.0 pydantic==2.14.4 pydantic_core==2.50.5 annotated_types==0.8.0
  typing_inspection==0.4.5 typing_extensions==4.16.0 einops==0.8.2
  bitsandbytes==0.50.2
  nltk==3.10.4 defusedxml==0.7.1
  # part 2 runs pytest on the tests marked gpu
  pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 pytest-xdist==3.8.0 execnet==2.1.2
  pytest-timeout==2.4.0 packaging==26.4 pygments==2.21.0
)
PLATFORM=(--python-version "$PY_VERSION" --implementation cp --platform manylinux2014_x86_64
  --platform manylinux_2_17_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_28_x86_64)
"$PY" -m pip download -q --no-deps --only-binary=:all: "${PLATFORM[@]}" -d "$OUT" \
  $(printf '%s\n' "${BINARY[@]}" | grep -v '^#')
# datasets 5 needs pyarrow >= 24; gpu_lease.sh takes this one on an older image
"$PY" -m pip download -q --no-deps --only-binary=:all: -d "$OUT/alt" datasets==4.8.5
"$PY" -m pip wheel -q --no-deps -w "$OUT" antlr4-python3-runtime==4.9.3 rouge-score==0.1.2
DS_BUILD_OPS=0 "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$OUT" deepspeed==0.19.8
# bitsandbytes: keep the CUDA 13 libraries only (and drop the rest from its RECORD)
"$PY" - "$OUT" << 'EOF'
import sys, zipfile
from pathlib import Path

(wheel,) = Path(sys.argv[1]).glob("bitsandbytes-*.whl")
kept = wheel.with_suffix(".slim")
with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(kept, "w", zipfile.ZIP_DEFLATED) as dst:
    def wanted(name: str) -> bool:
        return not name.endswith(".so") or "cuda13" in name
    for item in src.infolist():
        if not wanted(item.filename):
            continue
        data = src.read(item.filename)
        if item.filename.endswith(".dist-info/RECORD"):
            lines = data.decode().splitlines(keepends=True)
            data = "".join(l for l in lines if wanted(l.split(",", 1)[0])).encode()
        dst.writestr(item, data)
kept.replace(wheel)
EOF
du -sh "$OUT"
ls "$OUT"
