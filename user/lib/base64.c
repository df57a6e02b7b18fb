// SPDX-License-Identifier: GPL-2.0
/*
 * base64.c - see base64.h. OpenSSL's block coder does the coding; what is
 * ours is strictness: EVP_DecodeBlock() accepts spaces, missing padding and
 * non-zero unused bits, so a decoded key is encoded again and must give
 * back exactly the text it came from.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/base64.h"

void nn_key_to_base64(const uint8_t key[NN_KEY_LEN], char out[NN_KEY_B64_SIZE])
{
	EVP_EncodeBlock((unsigned char *)out, key, NN_KEY_LEN);
}

int nn_key_from_base64(const char *s, uint8_t key[NN_KEY_LEN])
{
	/* 32 bytes decode as 33 (the padding's zero byte) */
	unsigned char raw[NN_KEY_LEN + 1];
	char again[NN_KEY_B64_SIZE];
	uint8_t any = 0;
	int i;

	if (strnlen(s, NN_KEY_B64_SIZE) != NN_KEY_B64_SIZE - 1)
		return -EINVAL;
	if (EVP_DecodeBlock(raw, (const unsigned char *)s, NN_KEY_B64_SIZE - 1) != NN_KEY_LEN + 1)
		return -EINVAL;
	nn_key_to_base64(raw, again);
	if (memcmp(again, s, NN_KEY_B64_SIZE)) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return -EINVAL;
	}
	for (i = 0; i < NN_KEY_LEN; i++)
		any |= raw[i];
	memcpy(key, raw, NN_KEY_LEN);
	OPENSSL_cleanse(raw, sizeof(raw));
	return any ? 0 : -EINVAL;
}
