#!/usr/bin/env bash
# The VAE's GPU backend (burn wgpu, Vulkan) executed for real: 10 training steps on the GPU
# backend against the native CPU engine from the same weights and batches
# (biodis-vae's `gpu_backend_matches_the_cpu_engine`, tolerance stated there).
#
# Without a GPU it runs on Mesa's software Vulkan driver (lavapipe, Debian's
# `mesa-vulkan-drivers`), installed here when apt is available; on a machine with a GPU and its
# Vulkan driver it runs on the GPU. The first build of the `gpu` feature compiles wgpu and
# burn's cubecl kernels (over an hour on 2 cores); it uses its own target directory so the
# default build is not rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ldconfig -p | grep -q libvulkan.so.1 || ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
  if command -v apt-get >/dev/null; then
    apt-get install -y mesa-vulkan-drivers libvulkan1 >/dev/null
  else
    echo "check-gpu: no Vulkan loader/driver and no apt-get to install mesa-vulkan-drivers" >&2
    exit 2
  fi
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_GPU:-target/gpu}"
cargo test --release -p biodis-vae --features gpu --lib -- --ignored --nocapture gpu_backend_matches_the_cpu_engine
echo "check-gpu: ok"
