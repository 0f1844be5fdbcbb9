#!/usr/bin/env bash
# The original demo's comparison: ONNX Runtime against TensorRT, every intermediate tensor marked,
# atol = rtol = 1e-3, verbose histograms; both runs saved so that `python -m utils diff` draws the plots.
#
# Usage: scripts/compare_onnx_trt_diff.sh MODEL.onnx [OUT_DIR] [--fp16] [--batch N]
# Needs an NVIDIA GPU, TensorRT (8.6, 10.x or 11.x) and Polygraphy. Run from the project's environment.
set -euo pipefail

usage() { echo "usage: $0 MODEL.onnx [OUT_DIR] [--fp16] [--batch N]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
onnx=$1; shift
out=build/compare_cli; precision=fp32; batch=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --fp16) precision=fp16 ;;
    --batch) batch=${2:?--batch needs a number}; shift ;;
    -*) usage ;;
    *) out=$1 ;;
  esac
  shift
done
python=${PYTHON:-python}
[[ -f $onnx ]] || { echo "error: ONNX file $onnx does not exist; export it with: python -m utils export --out $onnx" >&2; exit 2; }

# Stop early, with the reason, where TensorRT cannot run; and learn how this TensorRT makes FP16 engines.
trt_args=$("$python" - "$onnx" "$precision" <<'PY'
import sys
from utils.artifacts import fp16_twin_path
from utils.environment import engine_execution_unavailable
from utils.onnx.precision import convert_to_fp16
from utils.tensorrt.api import load_tensorrt

onnx_path, precision = sys.argv[1], sys.argv[2]
reason = engine_execution_unavailable()
if reason:
    sys.exit(f"error: cannot run TensorRT here: {reason}")
trt = load_tensorrt()
if precision == "fp16" and trt.strongly_typed_only:
    # TensorRT 11 and TensorRT-RTX have no FP16 flag: build the FP16 model, strongly typed.
    fp16 = convert_to_fp16(onnx_path, fp16_twin_path(onnx_path))
    print(f"MODEL={fp16} --strongly-typed")
elif precision == "fp16":
    print(f"MODEL={onnx_path} --fp16")
else:
    print(f"MODEL={onnx_path}")
PY
) || exit 2
trt_model=${trt_args%% *}; trt_model=${trt_model#MODEL=}
trt_flags=${trt_args#MODEL=$trt_model}

mkdir -p "$out"
input_name=$("$python" -c "import onnx,sys; m=onnx.load(sys.argv[1]); print(m.graph.input[0].name)" "$onnx")
shape="$input_name:[$batch,3,224,224]"

echo "== ONNX Runtime, every tensor marked"
polygraphy run "$onnx" --onnxrt --onnx-outputs mark all \
  --input-shapes "$shape" --save-inputs "$out/inputs.json" --save-outputs "$out/onnxrt.json"

echo "== TensorRT ($precision), every tensor marked, compared with ONNX Runtime"
# shellcheck disable=SC2086
polygraphy run "$trt_model" --trt $trt_flags --trt-outputs mark all \
  --trt-min-shapes "$shape" --trt-opt-shapes "$shape" --trt-max-shapes "$shape" \
  --load-inputs "$out/inputs.json" --load-outputs "$out/onnxrt.json" --save-outputs "$out/tensorrt.json" \
  --atol 1e-3 --rtol 1e-3 --check-error-stat elemwise -v || echo "(Polygraphy reports mismatches above; plotting them next)"

echo "== stats.csv and histograms"
"$python" -m utils diff "$out/onnxrt.json" "$out/tensorrt.json" --atol 1e-3 --rtol 1e-3 --out "$out"
