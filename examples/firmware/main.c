/* Firmware for a microcontroller board: runs the digits classifier, which
 * qcc compiled and quantized to int8, on one 8x8 image kept in flash, and
 * prints the digit it sees through semihosting (QEMU shows it).
 * ./run.sh cortex-m4 (or riscv32imac) builds and runs it; see README.md. */
#include <stdio.h>
#include "digits.h"

/* examples/digits/sample.npy: a handwritten 7, pixel values 0 to 16. */
static const float image[DIGITS_IMAGE_LEN] = {
    0, 0, 2,  13, 16, 9,  0,  0, 0, 0, 12, 12, 7,  16, 3, 0, 0, 1,  14, 3, 0, 16,
    4, 0, 0,  0,  0,  4,  10, 16, 6, 0, 0,  0,  0,  13, 16, 16, 9, 0, 0, 0, 0, 5,
    13, 1, 0, 0,  0,  0,  0,  11, 9, 0, 0,  0,  0,  0,  1,  16, 4, 0, 0, 0,
};

int main(void) {
    float logits[DIGITS_LOGITS_LEN];
    unsigned best = 0, k;
    digits_run(image, logits);
    for (k = 1; k < DIGITS_LOGITS_LEN; k++) {
        if (logits[k] > logits[best]) {
            best = k;
        }
    }
    printf("digit %u (int8 model: %u bytes of weights in flash, %u bytes of arena)\n", best, (unsigned)DIGITS_WEIGHTS_BYTES,
           (unsigned)DIGITS_ARENA_BYTES);
    return 0;
}
