/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "digest.h"
#include "test-util.h"

static void digest_once(unsigned version, const uint8_t *key, const void *data, size_t n, uint8_t *out) {
        struct file_digest d;

        assert_int_equal(file_digest_init(&d, version, key), 0);
        file_digest_update(&d, data, n);
        file_digest_final(&d, out);
        file_digest_done(&d);
}

/* The tag OpenSSL gives for data in one call, without the step carry. */
static void reference_tag(const uint8_t *key, const uint8_t *data, size_t n, uint8_t out[16]) {
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
        EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
        size_t len = 0;

        assert_non_null(c);
        assert_true(EVP_MAC_init(c, key, FILE_DIGEST_KEY_LEN, NULL));
        assert_true(EVP_MAC_update(c, data, n));
        assert_true(EVP_MAC_final(c, out, &len, 16));
        assert_int_equal(len, 16);
        EVP_MAC_CTX_free(c);
        EVP_MAC_free(mac);
}

static void test_lengths(void **state) {
        assert_false(file_digest_keyed(1));
        assert_true(file_digest_keyed(2));
        assert_int_equal(file_digest_len(1), 32);
        assert_int_equal(file_digest_len(2), 16);
}

static void test_known_answers(void **state) {
        /* RFC 8439, 2.5.2. */
        static const uint8_t key[32] = { 0x85, 0xd6, 0xbe, 0x78, 0x57, 0x55, 0x6d, 0x33, 0x7f, 0x44, 0x52,
                                         0xfe, 0x42, 0xd5, 0x06, 0xa8, 0x01, 0x03, 0x80, 0x8a, 0xfb, 0x0d,
                                         0xb2, 0xfd, 0x4a, 0xbf, 0xf6, 0xaf, 0x41, 0x49, 0xf5, 0x1b };
        static const uint8_t tag[16] = { 0xa8, 0x06, 0x1d, 0xc1, 0x30, 0x51, 0x36, 0xc6,
                                         0xc2, 0x2b, 0x8b, 0xaf, 0x0c, 0x01, 0x27, 0xa9 };
        /* FIPS 180-2, SHA-256 of "abc". */
        static const uint8_t sha[32] = { 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                         0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                         0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };
        const char *msg = "Cryptographic Forum Research Group";
        uint8_t out[FILE_DIGEST_MAX];

        digest_once(2, key, msg, strlen(msg), out);
        assert_memory_equal(out, tag, sizeof(tag));
        digest_once(1, NULL, "abc", 3, out);
        assert_memory_equal(out, sha, sizeof(sha));
}

/* Pieces of every kind around the step (one byte, just short of it, just
 * past it, a chunk's 65532, nothing) give OpenSSL's one-call tag. */
static void test_any_split(void **state) {
        static const size_t pieces[] = { 1, 0, 3, 511, 512, 513, 65532, 1024, 7, 65536, 4096, 509, 131072 };
        static uint8_t data[300000];
        uint8_t key[FILE_DIGEST_KEY_LEN], out[FILE_DIGEST_MAX], want[16];
        struct file_digest d;
        size_t off = 0;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (i * 131 + (i >> 9));
        for (size_t i = 0; i < sizeof(key); i++)
                key[i] = (uint8_t) (i * 7 + 1);
        for (size_t total = 0; total <= sizeof(data); total += sizeof(data) / 3) {
                reference_tag(key, data, total, want);
                assert_int_equal(file_digest_init(&d, 2, key), 0);
                off = 0;
                for (size_t i = 0; off < total; i = (i + 1) % (sizeof(pieces) / sizeof(pieces[0]))) {
                        size_t n = pieces[i] < total - off ? pieces[i] : total - off;

                        file_digest_update(&d, data + off, n);
                        off += n;
                }
                file_digest_final(&d, out);
                file_digest_done(&d);
                assert_memory_equal(out, want, sizeof(want));
        }
        /* Done twice is harmless. */
        file_digest_done(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lengths),
                cmocka_unit_test(test_known_answers),
                cmocka_unit_test(test_any_split),
        };

        test_setup_env(30);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
