#!/bin/sh
# Builds the firmware of main.c for a microcontroller board and runs it under
# QEMU: qcc compiles examples/digits/model.onnx, quantized to int8, to C for
# the target, with the board's startup code and linker script (--harness),
# and the generated Makefile links main.c in place of the harness.
#   examples/firmware/run.sh cortex-m4      # QEMU mps2-an386 (Cortex-M4F)
#   examples/firmware/run.sh riscv32imac    # QEMU virt (RV32IMAC)
# QCC names the qcc binary (default: target/release/qcc, built if missing).
set -eu
target=${1:-cortex-m4}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
qcc=${QCC:-$root/target/release/qcc}
[ -x "$qcc" ] || cargo build --quiet --release --manifest-path "$root/Cargo.toml" --bin qcc
out=$root/target/firmware/$target
digits=$root/examples/digits
"$qcc" "$digits/model.onnx" --name digits --input-shape image=1,1,8,8 --quantize int8 --calibration "$digits/samples.npz" \
    --target "$target" --emit c --harness -o "$out" > /dev/null
cp "$here/main.c" "$out/firmware.c"
make -s -C "$out" harness HARNESS_MAIN=firmware.c
case $target in
cortex-m4)
    exec qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native,arg=firmware -kernel "$out/harness" ;;
riscv32imac)
    exec qemu-system-riscv32 -M virt -m 32M -bios none -nographic -monitor none -serial none \
        -chardev stdio,id=semi -semihosting-config enable=on,target=native,chardev=semi -kernel "$out/harness" ;;
*)
    echo "error: no board for target '$target': give cortex-m4 or riscv32imac" >&2
    exit 2 ;;
esac
