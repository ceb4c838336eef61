#!/usr/bin/env python3
# Independent computation of the known-answer vectors in tests/unit/crypto_tests.cpp: key
# derivation (libsodium's crypto_kdf: keyed BLAKE2b with the subkey id as salt and the context
# as personalisation), and both envelopes (XChaCha20-Poly1305 = HChaCha20 subkey + IETF
# ChaCha20-Poly1305) written out byte by byte from the format in crypto/keyring.hpp.
# Needs the `cryptography` package (pip or python3-cryptography). Run: python3 envelope_vectors.py
import hashlib
import struct

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305


def kdf(master, subkey_id, context):
    salt = struct.pack("<Q", subkey_id) + bytes(8)
    person = context.encode() + bytes(8)
    return hashlib.blake2b(b"", digest_size=32, key=master, salt=salt, person=person).digest()


def rotl(v, c):
    return ((v << c) & 0xffffffff) | (v >> (32 - c))


def hchacha20(key, nonce16):
    state = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]
    state += list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    def qr(a, b, c, d):
        state[a] = (state[a] + state[b]) & 0xffffffff; state[d] = rotl(state[d] ^ state[a], 16)
        state[c] = (state[c] + state[d]) & 0xffffffff; state[b] = rotl(state[b] ^ state[c], 12)
        state[a] = (state[a] + state[b]) & 0xffffffff; state[d] = rotl(state[d] ^ state[a], 8)
        state[c] = (state[c] + state[d]) & 0xffffffff; state[b] = rotl(state[b] ^ state[c], 7)
    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *(state[0:4] + state[12:16]))


def xchacha_seal(key, nonce24, plaintext, aad):
    subkey = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(subkey).encrypt(bytes(4) + nonce24[16:], plaintext, aad)


def envelope(key, header, nonce, plaintext, bound_to):
    return header + nonce + xchacha_seal(key, nonce, plaintext, header + bound_to)


master = bytes(range(32))
nonce = bytes(range(0x40, 0x58))
plaintext = b"Amal, +44 7700 900123"
print("kdf(master, 1, mdseal01) =", kdf(master, 1, "mdseal01").hex())
print("kdf(master, 7, mdseal01) =", kdf(master, 7, "mdseal01").hex())
key7 = kdf(master, 7, "mdseal01")
print("v1 key id 7 =", envelope(key7, b"\x01" + struct.pack(">I", 7), nonce, plaintext, b"spokespeople.phone:42").hex())
data_key = bytes(range(0x80, 0xa0))
print("v2 data key 258 =", envelope(data_key, b"\x02" + struct.pack(">Q", 258), nonce, plaintext, b"spokespeople.phone:42").hex())
