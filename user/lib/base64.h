/* SPDX-License-Identifier: GPL-2.0 */
/*
 * base64.h - 32-byte keys (WireGuard's Curve25519 keys) in their one text
 * form: standard base64, 43 symbols and one '='. The snapshot parser, the
 * wg0 backends, the state directory and the test generators all go
 * through these two, so every key has exactly one spelling everywhere.
 */
#ifndef NANAMI_LIB_BASE64_H
#define NANAMI_LIB_BASE64_H

#include <stdint.h>

#define NN_KEY_LEN 32
#define NN_KEY_B64_SIZE 45 /* 44 characters + NUL */

void nn_key_to_base64(const uint8_t key[NN_KEY_LEN], char out[NN_KEY_B64_SIZE]);

/*
 * Decode @s into @key. Returns 0, or -EINVAL unless @s is exactly the
 * canonical encoding of 32 bytes (44 characters, standard alphabet, the
 * padding, zero unused bits: what nn_key_to_base64() writes) and the key is
 * not all zero (no Curve25519 key anyone can hold).
 */
int nn_key_from_base64(const char *s, uint8_t key[NN_KEY_LEN]);

#endif /* NANAMI_LIB_BASE64_H */
