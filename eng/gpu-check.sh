#!/usr/bin/env bash
# The GPU check of the local ONNX backend, for a Linux machine with an NVIDIA GPU, the .NET 10 SDK and the package
# registry (about 3 minutes on a warm machine, under 5 with the restore):
#   1. restores the GPU build of ONNX Runtime (Microsoft.ML.OnnxRuntime.Gpu.Linux, the version CostAware uses);
#   2. checks that the CUDA and cuDNN major versions its CUDA provider links against are the ones CostAware's
#      start-up diagnosis probes for (OrtRuntime.CudaMajor / CudnnMajor), and that they load here;
#   3. runs the CUDA tests (CudaTests; they skip on a CPU-only runtime and run here);
#   4. runs the engine benchmark on the GPU (tiny and ~0.43 B Llama-style models, fp32 and int4, 1 and 8 requests at
#      once, arrivals spread in time) and writes its table.
# Results land in ${OUT:-artifacts/gpu-check}: gpu.txt, cuda-libraries.txt, tests.log, onnx-engines-cuda.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-artifacts/gpu-check}"
mkdir -p "$out"
native=Microsoft.ML.OnnxRuntime.Gpu.Linux

command -v nvidia-smi >/dev/null || { echo "gpu-check: no nvidia-smi: this script needs an NVIDIA GPU and its driver" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"

echo "== build against $native"
dotnet build tests/CostAware.Onnx.Tests -c Release -p:OnnxRuntimeNativePackage=$native -v:q -nologo
dotnet build benchmarks/CostAware.Benchmarks -c Release -p:OnnxRuntimeNativePackage=$native -v:q -nologo

echo "== CUDA libraries the provider needs, against what the diagnosis probes"
provider=$(find tests/CostAware.Onnx.Tests/bin/Release -name 'libonnxruntime_providers_cuda.so' | head -1)
[ -n "$provider" ] || { echo "gpu-check: libonnxruntime_providers_cuda.so is not in the build output" >&2; exit 1; }
cuda_major=$(sed -n 's/.*const int CudaMajor = \([0-9]*\);.*/\1/p' src/CostAware.Onnx/Internal/OrtRuntime.cs)
cudnn_major=$(sed -n 's/.*const int CudnnMajor = \([0-9]*\);.*/\1/p' src/CostAware.Onnx/Internal/OrtRuntime.cs)
needed=$(readelf -d "$provider" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
echo "$needed" > "$out/cuda-libraries.txt"
status=0
for lib in libcudart.so.$cuda_major libcublasLt.so.$cuda_major libcublas.so.$cuda_major libcurand.so.10; do
  if echo "$needed" | grep -qx "$lib"; then
    found=$(ldconfig -p | grep -c "$lib" || true)
    echo "$lib: needed by the provider, probed by the diagnosis; on the loader path: $([ "$found" -gt 0 ] && echo yes || echo NO)" | tee -a "$out/cuda-libraries.txt"
  else
    echo "$lib: probed by the diagnosis but NOT needed by this provider — update OrtRuntime.CudaMajor/CudnnMajor" | tee -a "$out/cuda-libraries.txt"
    status=1
  fi
done
# Every CUDA library the provider links must be one the diagnosis names when it is missing.
for lib in $(echo "$needed" | grep -E '^lib(cudart|cublas|cublasLt|cudnn|cufft|curand|nvrtc)\.so'); do
  grep -q "\"$lib\"\|${lib%.so.*}.so.{Cu" src/CostAware.Onnx/Internal/OrtRuntime.cs \
    || { echo "$lib: needed by the provider, not probed by the diagnosis" | tee -a "$out/cuda-libraries.txt"; status=1; }
done
# cuDNN is loaded when first needed (not linked): it must load here for convolution-free decoders only if ORT asks.
echo "libcudnn.so.$cudnn_major on the loader path: $(ldconfig -p | grep -c "libcudnn.so.$cudnn_major" || true) entries" | tee -a "$out/cuda-libraries.txt"

echo "== CUDA tests"
dotnet test tests/CostAware.Onnx.Tests -c Release --no-build -p:OnnxRuntimeNativePackage=$native \
  --filter "FullyQualifiedName~CudaTests|FullyQualifiedName~DeviceTests" --logger "console;verbosity=normal" 2>&1 | tee "$out/tests.log"
if grep -q "Skipped Decoder_OnCuda" "$out/tests.log"; then
  echo "gpu-check: the CUDA tests were skipped: CUDA did not start (see the diagnosis above)" >&2
  status=1
fi

echo "== engine benchmark on the GPU"
dotnet benchmarks/CostAware.Benchmarks/bin/Release/net10.0/linux-x64/CostAware.Benchmarks.dll --engine-compare "$out/onnx-engines-cuda.md" --cuda
exit $status
