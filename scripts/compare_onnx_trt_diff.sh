#!/usr/bin/env bash
# The original demo's comparison: ONNX Runtime against TensorRT, every intermediate tensor marked,
# atol = rtol = 1e-3, verbose histograms; both runs saved so that `python -m utils diff` draws the plots.
#
# Usage: scripts/compare_onnx_trt_diff.sh MODEL.onnx [OUT_DIR] [--fp16 | --int8 [--model NAME]] [--batch N]
# --int8 quantizes MODEL.onnx (Q/DQ, FP16 elsewhere) on the workbook's calibration set for NAME first.
# Needs an NVIDIA GPU, TensorRT (8.6, 10.x or 11.x) and Polygraphy. Run from the project's environment.
set -euo pipefail

usage() { echo "usage: $0 MODEL.onnx [OUT_DIR] [--fp16 | --int8 [--model NAME]] [--batch N]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
onnx=$1; shift
out=build/compare_cli; precision=fp32; batch=1; model=
while [[ $# -gt 0 ]]; do
  case $1 in
    --fp16) precision=fp16 ;;
    --int8) precision=int8 ;;
    --model) model=${2:?--model needs a name}; shift ;;
    --batch) batch=${2:?--batch needs a number}; shift ;;
    -*) usage ;;
    *) out=$1 ;;
  esac
  shift
done
python=${PYTHON:-python}
[[ -f $onnx ]] || { echo "error: ONNX file $onnx does not exist; export it with: python -m utils export --out $onnx" >&2; exit 2; }

# Stop early, with the reason, where TensorRT cannot run. Four lines come back: the module Polygraphy must import
# (TensorRT-RTX's PyPI wheel names it tensorrt_rtx_bindings; Polygraphy imports tensorrt_rtx), the model this TensorRT
# builds for the precision (TensorRT 11 and TensorRT-RTX have no FP16/INT8 flags: the model's own types decide), its
# polygraphy flags, and the tensors to mark: `*` (every tensor), or for a Q/DQ model its activations by name, since
# marking a Q/DQ output or a weight breaks TensorRT's INT8 fusion (utils.compare.runs.polygraphy_tensorrt_outputs);
# names are escaped, since Polygraphy reads them as fnmatch patterns.
mapfile -t trt_plan < <("$python" - "$onnx" "$precision" "$model" <<'PY'
import sys
from utils.compare.runs import polygraphy_cuda_unavailable, polygraphy_tensorrt_model, polygraphy_tensorrt_outputs
from utils.environment import engine_execution_unavailable
from utils.errors import WorkbookError
from utils.tensorrt.api import load_tensorrt

onnx_path, precision, model_name = sys.argv[1], sys.argv[2], sys.argv[3] or None
reason = engine_execution_unavailable() or polygraphy_cuda_unavailable()
if reason:
    sys.exit(f"error: cannot run TensorRT here: {reason}")
try:
    path, flags = polygraphy_tensorrt_model(onnx_path, precision, model_name=model_name)
    outputs = polygraphy_tensorrt_outputs(path)
except WorkbookError as exc:
    sys.exit(f"error: {exc}")
print(load_tensorrt().import_name)
print(path)
print(" ".join(flags))
print("\n".join(outputs))
PY
)
[[ ${#trt_plan[@]} -ge 4 ]] || exit 2
trt_module=${trt_plan[0]}
trt_model=${trt_plan[1]}
read -r -a trt_flags <<< "${trt_plan[2]}"
trt_outputs=("${trt_plan[@]:3}")
# Polygraphy, found as a shell finds it or through its Python entry point (utils.commands).
mapfile -t polygraphy < <("$python" -c 'from utils.commands import find_command; print("\n".join(find_command("polygraphy")))') \
  && [[ ${#polygraphy[@]} -ge 1 ]] || exit 2
if [[ $trt_module == tensorrt_rtx* ]]; then
  # Polygraphy's TensorRT-RTX mode imports `tensorrt_rtx`: a one-line module gives it the installed bindings.
  alias_dir=$(mktemp -d); trap 'rm -rf "$alias_dir"' EXIT
  printf 'import sys\nimport %s as _module\nsys.modules[__name__] = _module\n' "$trt_module" > "$alias_dir/tensorrt_rtx.py"
  export POLYGRAPHY_USE_TENSORRT_RTX=1 PYTHONPATH="$alias_dir${PYTHONPATH:+:$PYTHONPATH}"
fi

mkdir -p "$out"
input_name=$("$python" -c "import onnx,sys; m=onnx.load(sys.argv[1]); print(m.graph.input[0].name)" "$onnx")
shape="$input_name:[$batch,3,224,224]"

echo "== ONNX Runtime, every tensor marked"
"${polygraphy[@]}" run "$onnx" --onnxrt --onnx-outputs '*' \
  --input-shapes "$shape" --save-inputs "$out/inputs.json" --save-outputs "$out/onnxrt.json"

echo "== TensorRT ($precision), every activation marked, compared with ONNX Runtime"
"${polygraphy[@]}" run "$trt_model" --trt "${trt_flags[@]}" --trt-outputs "${trt_outputs[@]}" \
  --trt-min-shapes "$shape" --trt-opt-shapes "$shape" --trt-max-shapes "$shape" \
  --load-inputs "$out/inputs.json" --load-outputs "$out/onnxrt.json" --save-outputs "$out/tensorrt.json" \
  --atol 1e-3 --rtol 1e-3 --check-error-stat elemwise -v || echo "(Polygraphy reports mismatches above; plotting them next)"

echo "== stats.csv and histograms"
"$python" -m utils diff "$out/onnxrt.json" "$out/tensorrt.json" --atol 1e-3 --rtol 1e-3 --out "$out"
